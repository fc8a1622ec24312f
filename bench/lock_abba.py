# bench/shim.sh's detection latency, Python: like latency_abba.c with two
# plain threading.Locks.  alpha holds A and blocks on B; once alpha sits in
# futex, beta (holding B) prints "t0 NS" from time.monotonic_ns() (which is
# CLOCK_MONOTONIC on Linux) and blocks on A, closing the cycle.
import sys
import threading
import time

# argv[1]: seconds the program runs first (the tool has looked at it by then)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)

a = threading.Lock()
b = threading.Lock()
both_hold = threading.Barrier(2)
alpha_tid = None


def in_futex(tid):
    try:
        with open(f"/proc/self/task/{tid}/syscall") as f:
            return f.read().startswith("202 ")
    except OSError:
        return False


def alpha():
    global alpha_tid
    alpha_tid = threading.get_native_id()
    with a:
        both_hold.wait()
        b.acquire()        # waits: no cycle yet


def beta():
    with b:
        both_hold.wait()
        for _ in range(2000):
            if in_futex(alpha_tid):
                break
            time.sleep(0.001)
        time.sleep(0.001)
        t0 = time.monotonic_ns()
        print("t0", t0, flush=True)
        a.acquire()        # closes the cycle


ta = threading.Thread(target=alpha, name="alpha")
tb = threading.Thread(target=beta, name="beta")
ta.start()
tb.start()
ta.join()
