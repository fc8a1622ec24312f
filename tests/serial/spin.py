"""A busy wait: the main thread spins on a flag, with no synchronisation
point, until a worker sets it (after a sleep, so that main spins first).
Under --serial the spinner must not hang the run: the scheduler lets it
run beside the others (and says so)."""
import threading
import time

flag = False


def worker():
    global flag
    time.sleep(0.05)
    flag = True


t = threading.Thread(target=worker)
t.start()
while not flag:
    pass
t.join()
print("ok")
