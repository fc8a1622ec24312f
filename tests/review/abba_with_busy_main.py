# Real deadlock: the same with `with` blocks (owned): should be certain.
import threading, time
A = threading.Lock(); B = threading.Lock(); bar = threading.Barrier(2)
def t1():
    with A:
        bar.wait()
        with B: pass
def t2():
    with B:
        bar.wait()
        with A: pass
for f in (t1, t2):
    threading.Thread(target=f, daemon=True).start()
for _ in range(80):
    time.sleep(0.1)
raise SystemExit(3)
