# Correct program: a SIGALRM watchdog (the classic timeout-decorator
# pattern) interrupts a blocked `with` and the program recovers: main
# holds A and waits for B; the worker holds B and waits for A.  After
# 1 s the handler raises in main, main leaves its with (releasing A),
# the worker finishes.
import signal, threading, time
class Timeout(Exception): pass
def on_alarm(*a): raise Timeout()
A = threading.Lock(); B = threading.Lock(); got_b = threading.Event()
def worker():
    with B:
        got_b.set()
        time.sleep(0.1)
        with A:
            pass
signal.signal(signal.SIGALRM, on_alarm)
t = threading.Thread(target=worker)
try:
    with A:
        t.start(); got_b.wait()
        signal.alarm(1)
        with B:
            pass
except Timeout:
    print("timed out, recovered")
t.join()
print("ok")
