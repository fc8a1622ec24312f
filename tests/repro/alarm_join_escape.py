# Correct program: main holds L (with) and joins a worker that needs L.
# A SIGALRM watchdog raises in main after 1 s; main leaves its with
# (releasing L), the worker finishes, main joins it again.
import signal, threading
class Timeout(Exception): pass
def on_alarm(*a): raise Timeout()
L = threading.Lock()
def worker():
    with L:
        pass
signal.signal(signal.SIGALRM, on_alarm)
t = threading.Thread(target=worker)
try:
    with L:
        t.start()
        signal.alarm(1)
        t.join()
except Timeout:
    print("timed out, recovered")
t.join()
print("ok")
