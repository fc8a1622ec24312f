# Deadlock: a lost wake-up.  Condition.notify() is sent before the waiter
# waits, and the waiter waits with no timeout and without re-checking a
# predicate, so the notification is lost; see the threading docs on
# Condition objects, which tell waiters to loop on a predicate or use
# wait_for() (https://docs.python.org/3/library/threading.html#condition-objects).
# An Event orders the two threads: main notifies first (nobody is waiting
# yet), then lets "waiter" enter cond.wait().  The waiter blocks on its
# private waiter lock inside Condition.wait(); only a later notify() could
# release it, and the only thread that notifies, main, blocks in
# waiter.join(), which only the waiter's exit could end.
import threading

cond = threading.Condition()
notified = threading.Event()
data_ready = False


def wait_for_data():
    notified.wait()
    with cond:
        cond.wait()  # WAIT:waiter


waiter = threading.Thread(target=wait_for_data, name="waiter")
waiter.start()
with cond:
    data_ready = True
    cond.notify()
notified.set()
print("ready", flush=True)
waiter.join()  # WAIT:main
