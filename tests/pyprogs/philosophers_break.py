# N dining philosophers that deadlock for sure: each takes its left fork,
# waits until all have, then takes its right one.  Under
# pydeadlock run --on-deadlock=break one wait raises DeadlockError, its
# philosopher puts its left fork down, and the others eat in turn.
# Prints "ok" when each has eaten or got DeadlockError, no fork was ever
# used by two at once, and nobody both ate and was refused.
import sys
import threading

from pydeadlock import DeadlockError

n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
forks = [threading.Lock() for _ in range(n)]
users = [0] * n
all_hold_left = threading.Barrier(n)
ate, refused, overlaps = set(), {}, []
record = threading.Lock()


def use(fork, delta, who):
    users[fork] += delta
    if users[fork] > 1:
        overlaps.append((fork, who))


def philosopher(i):
    left, right = forks[i], forks[(i + 1) % n]
    with left:
        use(i, 1, i)
        all_hold_left.wait()
        try:
            with right:  # LINE_RIGHT
                use((i + 1) % n, 1, i)
                with record:
                    ate.add(i)
                use((i + 1) % n, -1, i)
        except DeadlockError as e:
            tb = e.__traceback__
            while tb.tb_next:
                tb = tb.tb_next
            with record:
                refused[i] = "line %d: %s" % (tb.tb_lineno, e)
        use(i, -1, i)


ts = [threading.Thread(target=philosopher, args=(i,), name="philosopher-%d" % i)
      for i in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("ate %d refused %d" % (len(ate), len(refused)))
for i, why in sorted(refused.items()):
    print("philosopher-%d: DeadlockError: %s" % (i, why))
good = (len(ate) + len(refused) == n and not (ate & set(refused))
        and not overlaps and refused)
print("ok" if good else "BROKEN %s %s" % (overlaps, sorted(ate)))
