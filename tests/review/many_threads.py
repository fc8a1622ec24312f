# Correct program: 1500 threads contend on a few `with` locks and a
# Condition, then all finish.
import threading
locks = [threading.Lock() for _ in range(4)]
cond = threading.Condition(); go = []
count = [0]
def work(i):
    with cond:
        while not go: cond.wait()
    for k in range(50):
        with locks[(i + k) % 4]:
            count[0] += 1
ts = [threading.Thread(target=work, args=(i,)) for i in range(1500)]
for t in ts: t.start()
with cond:
    go.append(1); cond.notify_all()
for t in ts: t.join()
assert count[0] == 1500 * 50
print("ok")
