# bench/shim.sh's and bench/lock_order.sh's Python lock-heavy loop:
# THREADS threads (default 4) each do `with lock: n += 1` COUNT times on
# one threading.Lock; with "nest", `with outer: with inner: n += 1` on
# two, always in that order (every inner acquisition made while holding
# a lock: the case --lock-order pays for).  Prints the wall time of the
# threaded part alone (interpreter start-up excluded), in nanoseconds,
# and the final n as a check.
# Usage: python bench/lock_loop.py COUNT [THREADS [nest]]
import sys
import threading
import time

count = int(sys.argv[1])
nthreads = int(sys.argv[2]) if len(sys.argv) > 2 else 4
nest = len(sys.argv) > 3 and sys.argv[3] == "nest"
lock = threading.Lock()
inner = threading.Lock()
n = 0


def work():
    global n
    for _ in range(count):
        with lock:
            n += 1


def work_nested():
    global n
    for _ in range(count):
        with lock:
            with inner:
                n += 1


threads = [threading.Thread(target=work_nested if nest else work)
           for _ in range(nthreads)]
start = time.perf_counter_ns()
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter_ns() - start
assert n == count * nthreads, n
print(f"ns {elapsed} n {n}")
