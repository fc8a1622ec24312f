# Deadlock: recursive submission into a bounded pool.  A task of a
# max_workers=2 ThreadPoolExecutor submits a sub-task and waits for it; the
# sub-task does the same one level deeper, so the third (leaf) task is
# queued while both workers wait: the "task waits on a future only the pool
# could run" pattern that the concurrent.futures docs warn about
# (https://docs.python.org/3/library/concurrent.futures.html#threadpoolexecutor,
# "Deadlocks can occur when the callable associated with a Future waits on
# the results of another Future").  Worker "pool_0" runs level 0 and blocks
# in the level-1 future's result(); worker "pool_1" runs level 1 and blocks in
# the level-2 future's result(); the level-2 task is in the work queue and
# only an idle worker could run it, and no worker can become idle; main
# blocks in the level-0 future's result().  No thread can end any wait.
# The pool starts exactly one thread per submit while below max_workers and
# no worker is idle, so the schedule is the same on every run.
import concurrent.futures

executor = concurrent.futures.ThreadPoolExecutor(max_workers=2,
                                                 thread_name_prefix="pool")


def walk(depth):
    if depth == 2:
        return 1
    sub = executor.submit(walk, depth + 1)
    if depth == 0:
        return sub.result() + 1  # WAIT:pool_0
    return sub.result() + 1  # WAIT:pool_1


top = executor.submit(walk, 0)
print("ready", flush=True)
print(top.result())  # WAIT:main
