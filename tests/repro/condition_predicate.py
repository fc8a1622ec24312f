# Control (finishes): the shape of lost_notify.py (notify sent before the
# waiter waits), but the waiter uses Condition.wait_for(predicate), which
# checks the predicate before waiting
# (https://docs.python.org/3/library/threading.html#threading.Condition.wait_for),
# so the early notification is not lost.  A tool must report no deadlock.
import threading

cond = threading.Condition()
notified = threading.Event()
data_ready = False
seen = []


def wait_for_data():
    notified.wait()
    with cond:
        cond.wait_for(lambda: data_ready)
        seen.append(data_ready)


waiter = threading.Thread(target=wait_for_data, name="waiter")
waiter.start()
with cond:
    data_ready = True
    cond.notify()
notified.set()
waiter.join()
assert seen == [True]
print("ok")
