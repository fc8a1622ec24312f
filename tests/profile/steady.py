"""Threads that keep one state each until killed, for attach --profile:
"spinner" runs Python code, "sleeper" sleeps, "locker" waits for a Lock
that "holder" keeps while it sleeps, "waiter" waits on a Condition that
nobody notifies, and main joins "spinner".  Prints "ready" once every
thread is in its state; ends by itself after 60 s at most.
"""
import threading
import time

lock = threading.Lock()
cv = threading.Condition()
held = threading.Event()
started = threading.Barrier(5)
deadline = time.monotonic() + 60


def spinner():
    started.wait()
    while time.monotonic() < deadline:
        pass


def sleeper():
    started.wait()
    time.sleep(60)


def holder():
    with lock:
        held.set()
        started.wait()
        time.sleep(60)


def locker():
    held.wait()
    started.wait()
    with lock:
        pass


def waiter():
    started.wait()
    with cv:
        cv.wait(60)


threads = [threading.Thread(target=f, name=f.__name__, daemon=True)
           for f in (spinner, sleeper, holder, locker, waiter)]
for t in threads:
    t.start()
time.sleep(0.3)     # each thread past the barrier, into its wait
print("ready", flush=True)
threads[0].join()
