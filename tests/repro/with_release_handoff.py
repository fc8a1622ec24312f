# Correct program: a "baton" Lock taken with `with` by main, handed to a
# worker that releases it for main (any thread may release a Lock);
# meanwhile main joins the worker, which first waits for a `with` lock of
# main's... simplified: worker waits on `with gate` (main holds it by
# with), main waits on a Condition-free join of a helper that releases gate.
import threading, time
gate = threading.Lock()
def helper():
    time.sleep(0.5)
    gate.release()          # unblocks the worker (cross-thread release)
def worker():
    with gate:
        pass
with gate:
    w = threading.Thread(target=worker); w.start()
    h = threading.Thread(target=helper); h.start()
    w.join()                # main waits for worker, worker waits for gate (main's, by with)
    h.join()
    gate.acquire()          # so that the with's exit has something to release
print("ok")
