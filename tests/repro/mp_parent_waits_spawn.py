# Correct program: with the spawn (or forkserver) start method, the parent
# waits untimed on a multiprocessing.Event / Lock that a child sets /
# releases after 1 s.
import multiprocessing as mp, time, sys
def child(ev, lock):
    time.sleep(1); ev.set()
    time.sleep(0.5); lock.release()
if __name__ == "__main__":
    mp.set_start_method(sys.argv[1] if len(sys.argv) > 1 else "spawn")
    ev = mp.Event(); lock = mp.Lock(); lock.acquire()
    p = mp.Process(target=child, args=(ev, lock)); p.start()
    ev.wait()
    lock.acquire()
    p.join()
    print("ok", p.exitcode)
