# Correct program: the parent holds a multiprocessing.Lock (a named,
# process-shared semaphore) in a `with` block while it forks a child that
# takes the same lock; the parent releases it after 1 s.
import multiprocessing as mp, time
def child(lock):
    with lock:
        print("child got the lock", flush=True)
if __name__ == "__main__":
    mp.set_start_method("fork")
    lock = mp.Lock()
    with lock:
        p = mp.Process(target=child, args=(lock,)); p.start()
        time.sleep(1)
    p.join()
    print("ok", p.exitcode)
