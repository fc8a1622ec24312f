# 100 dining philosophers, for bench/attach_python.sh: philosopher-N takes
# fork N (its left), waits until every philosopher holds its left fork, then
# takes fork N+1 (its right), which philosopher-(N+1) holds: a cycle of 100
# threads.  Main joins philosopher-0, so 101 threads wait in all.
import sys
import threading

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
forks = [threading.Lock() for _ in range(n)]
all_left = threading.Barrier(n)


def philosopher(i):
    left, right = forks[i], forks[(i + 1) % n]
    with left:
        all_left.wait()
        with right:  # LINE_RIGHT
            pass


threads = [threading.Thread(target=philosopher, args=(i,), name="philosopher-%d" % i)
           for i in range(n)]
for t in threads:
    t.start()
print("ready", flush=True)
threads[0].join()  # LINE_MAIN
