"""Threads in a forked child, under --serial: the child gets its own
scheduler and ends normally; so does the parent."""
import os
import queue
import threading


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
