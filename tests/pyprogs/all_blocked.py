# Everything blocked without a cycle: a Condition nobody notifies, a Queue
# nobody fills, an Event nobody sets; main joins the first.
import queue
import threading

cond = threading.Condition()
jobs = queue.Queue()
flag = threading.Event()


def cond_waiter():
    with cond:
        cond.wait()  # LINE_COND


def queue_getter():
    jobs.get()  # LINE_QUEUE


def event_waiter():
    flag.wait()  # LINE_EVENT


ts = [threading.Thread(target=f, name=f.__name__.replace("_", "-"))
      for f in (cond_waiter, queue_getter, event_waiter)]
for t in ts:
    t.start()
print("ready", flush=True)
ts[0].join()  # LINE_MAIN
