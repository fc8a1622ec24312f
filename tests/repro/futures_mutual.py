# Deadlock: two tasks of a 2-worker ThreadPoolExecutor each wait for the
# other's future, the first example of the concurrent.futures docs
# (https://docs.python.org/3/library/concurrent.futures.html#threadpoolexecutor).
# Worker thread "pool_0" runs wait_on_b() and blocks in b.result(); worker
# "pool_1" runs wait_on_a() and blocks in a.result(); the main thread blocks
# in a.result().  Future a can only be completed by pool_0 returning and b
# only by pool_1 returning, and each of those waits for the other, so no
# thread can ever end any of the three waits.  Events make pool_0 run a and
# pool_1 run b, and make both tasks start waiting only once both futures
# exist (the docs use time.sleep(5) for that).
import concurrent.futures
import threading

a_running = threading.Event()
both_submitted = threading.Event()
futures = {}


def wait_on_b():
    a_running.set()
    both_submitted.wait()
    return futures["b"].result() + 1  # WAIT:pool_0


def wait_on_a():
    both_submitted.wait()
    return futures["a"].result() + 1  # WAIT:pool_1


executor = concurrent.futures.ThreadPoolExecutor(max_workers=2,
                                                 thread_name_prefix="pool")
futures["a"] = executor.submit(wait_on_b)
a_running.wait()  # so that b is run by a second worker, pool_1
futures["b"] = executor.submit(wait_on_a)
both_submitted.set()
print("ready", flush=True)
print(futures["a"].result())  # WAIT:main
