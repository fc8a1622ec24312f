# Break latency, Python: "first" holds a and blocks on b; main holds b
# and takes a, closing the cycle; as the newest waiter its `with a:`
# raises DeadlockError.  Prints the microseconds from just before it.
import threading
import time

from pydeadlock import DeadlockError

a, b = threading.Lock(), threading.Lock()
both = threading.Barrier(2)


def first():
    with a:
        both.wait()
        with b:
            pass


b.acquire()
t = threading.Thread(target=first)
t.start()
both.wait()
time.sleep(0.02)
t0 = time.monotonic_ns()
try:
    with a:
        raise SystemExit("not broken")
except DeadlockError:
    t1 = time.monotonic_ns()
b.release()
t.join()
print((t1 - t0) // 1000)
