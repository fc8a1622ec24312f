# Deadlock: a task running on a max_workers=1 ThreadPoolExecutor submits a
# second task to the same executor and waits for its result, the second
# example of the concurrent.futures docs
# (https://docs.python.org/3/library/concurrent.futures.html#threadpoolexecutor).
# The only worker, "pool_0", blocks in inner.result(); the inner task sits in
# the executor's work queue and can only be run by pool_0; the main thread
# blocks in outer.result(), which only pool_0 returning could complete.  No
# thread can ever end either wait.
import concurrent.futures

executor = concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                                 thread_name_prefix="pool")


def wait_on_future():
    inner = executor.submit(pow, 5, 2)
    return inner.result()  # WAIT:pool_0


outer = executor.submit(wait_on_future)
print("ready", flush=True)
print(outer.result())  # WAIT:main
