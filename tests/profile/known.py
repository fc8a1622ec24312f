"""A program whose waits are known by construction, for run --profile.

Thread "locker" waits about 0.4 s for a Lock that "holder" keeps while it
sleeps; "cond" waits about 0.3 s on a Condition; "reader" waits about
0.3 s in read() on a pipe; main sleeps 0.3 s; "spinner" burns 0.3 s of
CPU.  It measures each itself and prints them as one JSON object, with
each thread's native id, for the test to hold the profile against.
"""
import json
import os
import threading
import time

lock = threading.Lock()
cv = threading.Condition()
held = threading.Event()
flag = []
measured = {}
r, w = os.pipe()


def timed(name, fn):
    def body():
        measured[name + "_tid"] = threading.get_native_id()
        start = time.perf_counter()
        fn()
        measured[name] = time.perf_counter() - start
    return body


def holder():
    measured["holder_tid"] = threading.get_native_id()
    with lock:
        held.set()
        time.sleep(0.4)


def take_lock():
    with lock:
        pass


def cond_wait():
    with cv:
        cv.wait_for(lambda: flag, timeout=10)


def spin():
    start = time.thread_time()
    while time.thread_time() - start < 0.3:
        pass


def spinner():
    measured["spinner_tid"] = threading.get_native_id()
    start = time.thread_time()
    spin()
    measured["spinner_cpu"] = time.thread_time() - start


h = threading.Thread(target=holder, name="holder")
h.start()
held.wait()
threads = [threading.Thread(target=timed("lock", take_lock), name="locker"),
           threading.Thread(target=timed("cond", cond_wait), name="cond"),
           threading.Thread(target=timed("io", lambda: os.read(r, 1)), name="reader"),
           threading.Thread(target=spinner, name="spinner")]
for t in threads:
    t.start()
measured["main_tid"] = threading.get_native_id()
start = time.perf_counter()
time.sleep(0.25)
time.sleep(0.05)
measured["sleep"] = time.perf_counter() - start
os.write(w, b"x")              # the reader waited about 0.3 s
with cv:
    flag.append(1)
    cv.notify_all()
for t in threads + [h]:
    t.join()
measured["process_cpu"] = time.process_time()
print(json.dumps(measured))
