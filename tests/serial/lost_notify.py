"""A lost notify: the waiter checks nothing before it waits, and the
notifier may have notified already.  Under the schedule where the
notify comes first, every thread waits and none can wake the others."""
import threading

cond = threading.Condition()


def waiter():
    with cond:
        cond.wait()    # LINE_WAIT


t = threading.Thread(target=waiter, name="waiter")
t.start()
with cond:
    cond.notify()
t.join()
print("ok")
