# Correct program: a parent thread holds a multiprocessing.Lock by `with`
# while main forks a child that takes it; the thread releases after 1 s.
import multiprocessing as mp, threading, time
def child(lock):
    with lock:
        print("child got the lock", flush=True)
def holder(lock, ready):
    with lock:
        ready.set()
        time.sleep(1)
if __name__ == "__main__":
    mp.set_start_method("fork")
    lock = mp.Lock(); ready = threading.Event()
    t = threading.Thread(target=holder, args=(lock, ready)); t.start()
    ready.wait()
    p = mp.Process(target=child, args=(lock,)); p.start()
    p.join(); t.join()
    print("ok", p.exitcode)
