# Under --on-deadlock=report: first a harmless owner cycle that a third
# thread resolves (see with_third_release.py), then, 1 s later, a real
# all-blocked deadlock (main joins a thread that waits on a Lock nobody
# will release).  The second one should be reported too.
import threading, time
L = threading.Lock(); M = threading.Lock(); started = threading.Event()
def worker():
    with M:
        started.set()
        with L:
            pass
def releaser():
    time.sleep(1.0); L.release()
with L:
    w = threading.Thread(target=worker); w.start(); started.wait()
    r = threading.Thread(target=releaser); r.start()
    time.sleep(0.2)
    with M:
        pass
    L.acquire()
w.join(); r.join()
print("first part done", flush=True)
time.sleep(1)
X = threading.Lock(); X.acquire()
t = threading.Thread(target=X.acquire); t.start()
t.join()            # real deadlock: nobody releases X
