# Deadlock: a plain (non-reentrant) threading.Lock taken again by the same
# thread through a callback: update() holds the lock while it calls the
# registered listeners, and a listener takes the same lock.  The threading
# docs say a Lock is not owned and a second acquire blocks even in the same
# thread; RLock is the reentrant kind
# (https://docs.python.org/3/library/threading.html#lock-objects,
# https://docs.python.org/3/library/threading.html#rlock-objects).
# The main thread, the only thread, holds state_lock (taken in update()) and
# blocks acquiring it again in on_change(); only a release() of state_lock
# could end the wait, and the only thread that would release it is main.
import threading

state_lock = threading.Lock()
state = {"value": 0}
history = []
listeners = []


def on_change(value):
    with state_lock:  # WAIT:main
        history.append((value, state["value"]))


def update(value):
    with state_lock:  # HOLD:main
        state["value"] = value
        for listener in listeners:
            listener(value)


listeners.append(on_change)
print("ready", flush=True)
update(1)
