# No deadlock, lots of synchronisation: locks, RLocks, conditions, queues,
# events, semaphores, a thread pool, timeouts, threads coming and going.
# Prints "ok" when every count is exact.
import concurrent.futures
import queue
import threading

N = 20000
lock = threading.Lock()
rlock = threading.RLock()
sem = threading.BoundedSemaphore(3)
cond = threading.Condition()
jobs = queue.Queue(maxsize=10)
done = threading.Event()
count = [0, 0, 0]


def locker():
    for _ in range(N):
        with lock:
            with rlock:
                with rlock:
                    count[0] += 1


def producer():
    for i in range(N):
        jobs.put(i)
    jobs.put(None)


def consumer():
    while jobs.get() is not None:
        with cond:
            count[1] += 1
            cond.notify_all()


def waiter():
    with cond:
        while count[1] < N:
            cond.wait(timeout=0.5)
    done.set()


def limited():
    for _ in range(200):
        with sem:
            lock.acquire(timeout=1) and lock.release()


threads = [threading.Thread(target=f) for f in
           (locker, locker, producer, consumer, waiter, limited, limited)]
for t in threads:
    t.start()
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    count[2] = sum(pool.map(lambda x: x * 2, range(500)))
done.wait()
for t in threads:
    t.join()
ok = count == [2 * N, N, sum(x * 2 for x in range(500))]
print("ok" if ok else "BROKEN %s" % count)
