# A deadlock that forms after a look-alike has come and gone.  First, for
# about a second, main and a worker wait on each other's `with` Locks while
# a third thread sleeps before releasing one of them (legal: any thread may
# release a Lock); that ends by itself and must not be reported.  Then
# main joins a thread that waits on a Lock main holds and will never
# release: a real deadlock, which must be reported and, under break,
# broken (the thread's acquire raises, it ends, the join returns).
import threading
import time

L = threading.Lock()
M = threading.Lock()
started = threading.Event()


def worker():
    with M:
        started.set()
        with L:
            pass


def releaser():
    time.sleep(1.0)
    L.release()


with L:
    w = threading.Thread(target=worker)
    w.start()
    started.wait()
    r = threading.Thread(target=releaser)
    r.start()
    time.sleep(0.2)
    with M:
        pass
    L.acquire()  # taken back, for the with block's exit to release
w.join()
r.join()
print("the look-alike ended", flush=True)
X = threading.Lock()
X.acquire()
t = threading.Thread(target=X.acquire, name="waiter")
t.start()
print("ready", flush=True)
t.join()  # WAIT:main
print("joined")
