# Control (finishes): main joins a thread that is blocked in put() on a
# full bounded multiprocessing.Queue; a child process, after 0.5 s, drains
# the queue, which ends the put() waits and so the join
# (https://docs.python.org/3/library/multiprocessing.html#multiprocessing.Queue.put).
# The thread waits on a semaphore only another process releases: a tool
# must report no deadlock.  Two processes.
import multiprocessing
import threading
import time

N = 10


def drain(q):
    time.sleep(0.5)
    for _ in range(N):
        q.get()


def put_all(q):
    for i in range(N):
        q.put(i)


if __name__ == "__main__":
    q = multiprocessing.Queue(maxsize=2)
    child = multiprocessing.Process(target=drain, args=(q,), name="drainer")
    child.start()
    putter = threading.Thread(target=put_all, args=(q,), name="putter")
    putter.start()
    putter.join()
    child.join()
    assert child.exitcode == 0
    print("ok")
