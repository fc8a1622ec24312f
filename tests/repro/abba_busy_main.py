# A real deadlock that one cannot prove: two threads take Locks A and B in
# opposite orders with `with` blocks and block for good, while the main
# thread goes on polling (it gives up after 15 s and exits with status 3).
# Any thread may release a threading.Lock, and main still runs: as far as
# anything outside the program can tell, main might release A or B.  So
# this is a potential deadlock, reported once it has stayed still, never
# acted on: ending a program on a guess would end correct programs too
# (see with_third_release.py, where a third thread does release).
import threading
import time

A = threading.Lock()
B = threading.Lock()
both = threading.Barrier(2)


def one():
    with A:
        both.wait()
        with B:  # WAIT:one
            pass


def two():
    with B:
        both.wait()
        with A:  # WAIT:two
            pass


for f in (one, two):
    threading.Thread(target=f, name=f.__name__, daemon=True).start()
print("ready", flush=True)
for _ in range(150):
    time.sleep(0.1)
print("main gave up: the workers are deadlocked")
raise SystemExit(3)
