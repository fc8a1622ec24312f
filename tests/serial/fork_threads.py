"""Threads in a forked child, under --serial: the child gets its own
scheduler and ends normally; so does the parent.  Then a fork from a
worker thread, whose child ends when that thread returns."""
import os
import queue
import threading
import warnings

# 3.12+ warns of a fork in a process with threads: this one means it
warnings.simplefilter("ignore", DeprecationWarning)


def work(tag):
    q = queue.Queue()
    threads = [threading.Thread(target=lambda i=i: q.put(i * i)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tag, sum(q.get() for _ in range(4))


pid = os.fork()
if pid == 0:
    print(*work("child"), flush=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
print(*work("parent"), os.waitstatus_to_exitcode(status), flush=True)


# A fork from a worker thread, as CPython's test_threading
# test_3_join_in_forked_from_thread does: in the child that thread is the
# only one, and its return ends the child (glibc exits after a process's
# last thread), which the scheduler's own thread must not prevent.
def fork_in_worker():
    pid = os.fork()
    if pid == 0:
        print(*work("worker's child"), flush=True)
        return
    _, status = os.waitpid(pid, 0)
    print("worker's child ended", os.waitstatus_to_exitcode(status), flush=True)


w = threading.Thread(target=fork_in_worker)
w.start()
w.join()
