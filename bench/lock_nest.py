# bench/lock_order.sh's nested Python loop: THREADS threads (default 4)
# each do `with outer: with inner: n += 1` COUNT times, on two
# threading.Locks, always in that order: every inner acquisition is made
# while holding a lock, the case --lock-order pays for.  Prints the wall
# time of the threaded part (start-up excluded) in nanoseconds, and n.
# Usage: python bench/lock_nest.py COUNT [THREADS]
import sys
import threading
import time

count = int(sys.argv[1])
nthreads = int(sys.argv[2]) if len(sys.argv) > 2 else 4
outer = threading.Lock()
inner = threading.Lock()
n = 0


def work():
    global n
    for _ in range(count):
        with outer:
            with inner:
                n += 1


threads = [threading.Thread(target=work) for _ in range(nthreads)]
start = time.perf_counter_ns()
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.perf_counter_ns() - start
assert n == count * nthreads, n
print(f"ns {elapsed} n {n}")
