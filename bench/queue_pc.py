# bench/serial.sh's producer/consumer: 2 producers put COUNT items each
# into one bounded queue.Queue(100), 2 consumers get them; prints the sum
# as a check.  Usage: python bench/queue_pc.py COUNT
import queue
import sys
import threading

count = int(sys.argv[1])
q = queue.Queue(maxsize=100)
sums = []


def produce():
    for i in range(count):
        q.put(i)
    q.put(None)


def consume():
    total = 0
    while (item := q.get()) is not None:
        total += item
    sums.append(total)


threads = [threading.Thread(target=f) for f in (produce, produce, consume, consume)]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert sum(sums) == count * (count - 1), sums
print(sum(sums))
