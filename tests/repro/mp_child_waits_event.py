# Correct program: a forked child waits (untimed) on a multiprocessing
# Event, Semaphore and Condition that the parent sets/releases after 1 s.
import multiprocessing as mp, time, sys
def child(ev, sem, cond):
    ev.wait()
    sem.acquire()
    with cond:
        cond.wait()
    print("child done", flush=True)
if __name__ == "__main__":
    mp.set_start_method(sys.argv[1] if len(sys.argv) > 1 else "fork")
    ev = mp.Event(); sem = mp.Semaphore(0); cond = mp.Condition()
    p = mp.Process(target=child, args=(ev, sem, cond)); p.start()
    time.sleep(1); ev.set()
    time.sleep(0.5); sem.release()
    time.sleep(0.5)
    while p.is_alive():
        with cond:
            cond.notify_all()
        time.sleep(0.3)
    p.join()
    print("ok", p.exitcode)
