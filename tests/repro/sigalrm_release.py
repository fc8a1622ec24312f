# Control (finishes): the only thread blocks acquiring a Lock it holds
# itself, and a SIGALRM handler releases it one second later (any thread,
# and so a signal handler running in the main thread, may release a Lock;
# lock acquisition in the main thread is interrupted by signals and runs the
# handler, https://docs.python.org/3/library/signal.html#execution-of-python-signal-handlers
# and https://docs.python.org/3/library/threading.html#threading.Lock.acquire).
# Looks like lock_reentry_callback.py, but a pending alarm can end the
# wait: a tool must report no deadlock.
import signal
import threading

lock = threading.Lock()
lock.acquire()
signal.signal(signal.SIGALRM, lambda signum, frame: lock.release())
signal.alarm(1)
lock.acquire()
lock.release()
print("ok")
