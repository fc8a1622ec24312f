# Correct program: main holds L by `with` and waits to acquire it again;
# a SIGALRM handler (timer, 0.5 s) releases it.  The with's exit then
# releases the re-acquired lock.
import signal, threading
L = threading.Lock()
signal.signal(signal.SIGALRM, lambda *a: L.release())
signal.setitimer(signal.ITIMER_REAL, 0.5)
with L:
    L.acquire()
print("ok")
