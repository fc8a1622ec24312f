# Control (finishes): os.fork() in a process with other threads, none of
# which holds a lock at that moment (they wait on an Event); the child logs
# and prints, then exits, and the parent waits for it.  The shape of
# logging_fork.py and stdout_fork.py without the held lock (see the
# os.fork() notes, https://docs.python.org/3/library/os.html#os.fork).  A
# tool must report no deadlock.  Two processes.  Python 3.12+ prints a
# DeprecationWarning about fork with threads on stderr.
import logging
import os
import threading

logging.basicConfig(format="%(process)d %(threadName)s %(message)s")
log = logging.getLogger("app")
stop = threading.Event()
idlers = [threading.Thread(target=stop.wait, name="idler%d" % i)
          for i in range(3)]
for t in idlers:
    t.start()
log.warning("parent before fork")
pid = os.fork()
if pid == 0:
    log.warning("child logging")
    print("child printing", flush=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
stop.set()
for t in idlers:
    t.join()
print("ok")
