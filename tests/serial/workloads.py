"""Correct programs that must give their normal results under --serial:
a queue pipeline, a thread pool, futures, conditions, events, timeouts,
sleeps, a daemon thread left running at exit.  Prints one line per part;
the test compares it with a plain run's."""
import concurrent.futures
import queue
import sys
import threading
import time


def pipeline():
    q, out = queue.Queue(maxsize=4), queue.Queue()

    def produce():
        for i in range(200):
            q.put(i)
        q.put(None)

    def consume():
        total = 0
        while (item := q.get()) is not None:
            total += item
        out.put(total)

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out.get()


def pool():
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
        return sum(ex.map(lambda x: x * x, range(100)))


def futures_chain():
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        first = ex.submit(lambda: 20)
        second = ex.submit(lambda: first.result() + 22)
        return second.result(timeout=30)


def condition_handoff():
    cond, box = threading.Condition(), []

    def waiter():
        with cond:
            while not box:
                cond.wait()
            box.append("seen")

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.05)
    with cond:
        box.append("set")
        cond.notify()
    t.join()
    return box


def timeouts():
    q = queue.Queue()
    start = time.monotonic()
    try:
        q.get(timeout=0.2)
        got = "item"
    except queue.Empty:
        got = "empty"
    ev = threading.Event()
    waited = ev.wait(0.1)
    lock = threading.Lock()
    lock.acquire()
    took = lock.acquire(timeout=0.1)
    return got, waited, took, time.monotonic() - start >= 0.4


def daemon_left():
    threading.Thread(target=lambda: threading.Event().wait(), daemon=True).start()
    return "daemon"


for part in (pipeline, pool, futures_chain, condition_handoff, timeouts, daemon_left):
    print(part.__name__, part())
sys.stdout.flush()
