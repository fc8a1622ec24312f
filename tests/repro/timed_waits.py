# Control (finishes): the waits of the deadlock programs, each with a
# timeout that expires, after which the program recovers and goes on
# (futures' result(timeout) raises TimeoutError, Lock.acquire(timeout) and
# Condition.wait(timeout) return False, Queue.get(timeout) raises Empty,
# Thread.join(timeout) returns with the thread alive; see
# https://docs.python.org/3/library/threading.html and
# https://docs.python.org/3/library/concurrent.futures.html).  For a while
# threads here wait on each other in cycles, but every wait is timed, so a
# tool must report no deadlock (at most a potential one).
import concurrent.futures
import queue
import threading

T = 0.3

# Mutual futures (futures_mutual.py) with timeouts: a gives up on b, b then
# gets a's fallback result.
pool = concurrent.futures.ThreadPoolExecutor(max_workers=2,
                                             thread_name_prefix="pool")
both_submitted = threading.Event()
futures = {}


def wait_on_b():
    both_submitted.wait()
    try:
        return futures["b"].result(timeout=T)
    except concurrent.futures.TimeoutError:
        return "fallback"


def wait_on_a():
    both_submitted.wait()
    return futures["a"].result(timeout=10 * T)


futures["a"] = pool.submit(wait_on_b)
futures["b"] = pool.submit(wait_on_a)
both_submitted.set()
assert futures["a"].result() == "fallback"
assert futures["b"].result() == "fallback"
pool.shutdown()

# Single worker waiting on its own executor (futures_single_worker.py).
single = concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                               thread_name_prefix="single")


def outer():
    inner = single.submit(pow, 5, 2)
    try:
        return inner.result(timeout=T)
    except concurrent.futures.TimeoutError:
        return inner


inner = single.submit(outer).result()
assert inner.result() == 25
single.shutdown()

# Lock re-entry (lock_reentry_callback.py) with a timeout.
lock = threading.Lock()
with lock:
    assert not lock.acquire(timeout=T)

# Lost notify (lost_notify.py) with a timed wait.
cond = threading.Condition()
with cond:
    cond.notify()
    assert not cond.wait(timeout=T)

# A cycle of two threads on two locks, with timed acquires: both back off.
a, b = threading.Lock(), threading.Lock()
barrier = threading.Barrier(2)
results = []


def take(first, second):
    with first:
        barrier.wait()
        got = second.acquire(timeout=T)
        if got:
            second.release()
        results.append(got)


threads = [threading.Thread(target=take, args=(a, b), name="alpha"),
           threading.Thread(target=take, args=(b, a), name="beta")]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert len(results) == 2

# Queue.get and Thread.join with timeouts.
q = queue.Queue()
try:
    q.get(timeout=T)
    raise AssertionError("got an item")
except queue.Empty:
    pass
go = threading.Event()
sleeper = threading.Thread(target=go.wait, name="sleeper")
sleeper.start()
sleeper.join(timeout=T)
assert sleeper.is_alive()
assert not go.wait(timeout=T)
go.set()
sleeper.join()
print("ok")
