# Control (finishes): the main thread, the only thread, waits without a
# timeout on a threading.Event that a SIGUSR1 handler sets; a child process
# sends SIGUSR1 after 1 s (Python runs handlers in the main thread, also
# while it waits on a lock,
# https://docs.python.org/3/library/signal.html#execution-of-python-signal-handlers).
# Every thread of the process waits untimed, yet a signal from another
# process ends the wait: a tool must report no deadlock.  Two processes.
import os
import signal
import subprocess
import sys
import threading

done = threading.Event()
signal.signal(signal.SIGUSR1, lambda signum, frame: done.set())
kicker = subprocess.Popen([
    sys.executable, "-c",
    "import os, signal, time; time.sleep(1); "
    "os.kill(%d, signal.SIGUSR1)" % os.getpid()])
assert done.wait()
assert kicker.wait() == 0
print("ok")
