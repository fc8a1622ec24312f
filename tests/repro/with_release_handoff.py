# Correct program: main holds a gate Lock by a `with` block and joins a
# worker that waits to take the gate with a `with` block of its own; a
# helper thread releases the gate for it after 0.5 s (any thread may
# release a Lock).  Main takes the gate back before its block ends.
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
