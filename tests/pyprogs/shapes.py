# Every kind of wait a Python thread can be in, and no deadlock: "holder"
# sleeps while holding a Lock and an RLock (twice), "spinner" runs.
import os
import queue
import threading
import time

lock = threading.Lock()
rlock = threading.RLock()
cond = threading.Condition()
jobs = queue.Queue()
flag = threading.Event()
held = threading.Event()
pipe_r, pipe_w = os.pipe()


def holder():
    with lock:
        with rlock:
            with rlock:
                held.set()
                time.sleep(3600)  # LINE_HOLDER


def locked_out():
    with lock:  # LINE_LOCKED_OUT
        pass


def rlock_waiter():
    with rlock:  # LINE_RLOCK
        pass


def cond_waiter():
    with cond:
        cond.wait()  # LINE_COND


def queue_getter():
    jobs.get()  # LINE_QUEUE


def event_waiter():
    flag.wait()  # LINE_EVENT


def joiner():
    threads["holder"].join()  # LINE_JOIN


def reader():
    os.read(pipe_r, 1)  # LINE_READ


def spinner():
    n = 0
    while True:
        n += 1  # LINE_SPIN


threads = {}
for fn in (holder, locked_out, rlock_waiter, cond_waiter, queue_getter,
           event_waiter, joiner, reader, spinner):
    name = fn.__name__.replace("_", "-")
    threads[name] = threading.Thread(target=fn, name=name, daemon=True)
threads["holder"].start()
held.wait()
for name, t in threads.items():
    if name != "holder":
        t.start()
print("ready", flush=True)
flag_never = threading.Event()
flag_never.wait(3600)  # LINE_MAIN
