# Correct program: main holds L by `with`; worker holds M by `with` and waits
# for L; main waits for M.  For ~1 s this is an owner cycle, but a third
# thread (sleeping) releases L -- any thread may release a Lock -- and all
# finishes.  Plainly: prints ok, exit 0.
import threading, time
L = threading.Lock(); M = threading.Lock()
started = threading.Event()
def worker():
    with M:
        started.set()
        with L:          # waits; L's holder is main (by with)
            pass         # releases L
def releaser():
    time.sleep(1.0)
    L.release()          # frees main's L
with L:
    w = threading.Thread(target=worker); w.start()
    started.wait()
    r = threading.Thread(target=releaser); r.start()
    time.sleep(0.2)
    with M:              # waits for worker
        pass
    L.acquire()          # take it back so the with can release it
w.join(); r.join()
print("ok")
