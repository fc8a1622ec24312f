# Control (finishes): two feeder threads each put items into their own
# bounded multiprocessing.Queue (maxsize 4), which a child process reads
# alternately (https://docs.python.org/3/library/multiprocessing.html#pipes-and-queues).
# The feeders block in put() whenever their queue is full (a semaphore
# shared with the child), and each queue's own feeder thread blocks writing
# to a pipe; the child's get()s end those waits.  A tool must report no
# deadlock.  Two processes.
import multiprocessing
import threading

N = 200
ITEM = b"y" * 8192


def consume(q1, q2, results):
    total = 0
    for _ in range(N):
        total += len(q1.get()) + len(q2.get())
    results.put(total)


def feed(q):
    for _ in range(N):
        q.put(ITEM)


if __name__ == "__main__":
    q1 = multiprocessing.Queue(maxsize=4)
    q2 = multiprocessing.Queue(maxsize=4)
    results = multiprocessing.Queue()
    child = multiprocessing.Process(target=consume, args=(q1, q2, results),
                                    name="consumer")
    child.start()
    feeders = [threading.Thread(target=feed, args=(q,), name=name)
               for q, name in ((q1, "feeder1"), (q2, "feeder2"))]
    for t in feeders:
        t.start()
    for t in feeders:
        t.join()
    assert results.get() == 2 * N * len(ITEM)
    child.join()
    assert child.exitcode == 0
    print("ok")
