# Real deadlock: two threads take A and B with acquire() in opposite
# orders and block for good; main keeps polling (sleep loop) for 8 s and
# then exits with status 3 (so a hang shows as 3, a detection as 86).
import threading, time
A = threading.Lock(); B = threading.Lock(); bar = threading.Barrier(2)
def t1():
    A.acquire(); bar.wait(); B.acquire()
def t2():
    B.acquire(); bar.wait(); A.acquire()
for f in (t1, t2):
    threading.Thread(target=f, daemon=True).start()
for _ in range(80):
    time.sleep(0.1)
print("main gave up: the workers are deadlocked")
raise SystemExit(3)
