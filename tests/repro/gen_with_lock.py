# Correct program: a generator holds L across a yield (with L: yield); it is
# started in main and finished by another thread, which releases L.
import threading, time
L = threading.Lock(); M = threading.Lock()
def holder():
    with L:
        yield
g = holder()
next(g)                      # main now holds L (by with, in the generator)
got_m = threading.Event()
def b():
    with M:
        got_m.set()
        with L:              # waits for L
            pass
def c():
    time.sleep(1.0)
    next(g, None)            # finish the generator: releases L
tb = threading.Thread(target=b); tb.start(); got_m.wait()
tc = threading.Thread(target=c); tc.start()
time.sleep(0.2)
with M:                      # waits for b
    pass
tb.join(); tc.join()
print("ok")
