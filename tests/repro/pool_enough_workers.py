# Control (finishes): the shapes of futures_single_worker.py,
# pool_own_future.py and a one-way version of futures_mutual.py, each with
# enough workers (https://docs.python.org/3/library/concurrent.futures.html#threadpoolexecutor).
# Tasks wait on futures of the same executor, but there is always an idle
# or newly started worker to run the awaited task, so every wait ends.
# A tool must report no deadlock.
import concurrent.futures
import threading

# 1. A task waits on a future submitted to the same executor (2 workers).
nested = concurrent.futures.ThreadPoolExecutor(max_workers=2,
                                               thread_name_prefix="nested")


def outer():
    return nested.submit(pow, 5, 2).result()


assert nested.submit(outer).result() == 25

# 2. Recursive submission, depth 2, with 3 workers.
deep = concurrent.futures.ThreadPoolExecutor(max_workers=3,
                                             thread_name_prefix="deep")


def walk(depth):
    if depth == 2:
        return 1
    return deep.submit(walk, depth + 1).result() + 1


assert deep.submit(walk, 0).result() == 3

# 3. Two tasks, a waits for b; b does not wait for a (2 workers).
pair = concurrent.futures.ThreadPoolExecutor(max_workers=2,
                                             thread_name_prefix="pair")
both_submitted = threading.Event()
futures = {}


def wait_on_b():
    both_submitted.wait()
    return futures["b"].result() + 1


def compute_b():
    both_submitted.wait()
    return 41


futures["a"] = pair.submit(wait_on_b)
futures["b"] = pair.submit(compute_b)
both_submitted.set()
assert futures["a"].result() == 42

for ex in (nested, deep, pair):
    ex.shutdown(wait=True)
print("ok")
