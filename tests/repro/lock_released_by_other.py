# Control (finishes): a plain Lock used as a gate and released by a thread
# other than the one that acquired it, which the threading docs allow ("any
# thread may release it",
# https://docs.python.org/3/library/threading.html#lock-objects).  Main
# holds the gate; "waiter" blocks acquiring it; main blocks joining waiter;
# after 0.5 s "opener" releases the gate.  For half a second main waits on
# waiter, which waits on a Lock held (acquired) by main: an owner-based
# wait-for graph shows a cycle, yet the lock has no owner and a third
# thread ends the wait.  A tool must report no deadlock.
import threading
import time

gate = threading.Lock()
gate.acquire()
passed = []


def wait_at_gate():
    with gate:
        passed.append(True)


def open_gate():
    time.sleep(0.5)
    gate.release()


waiter = threading.Thread(target=wait_at_gate, name="waiter")
opener = threading.Thread(target=open_gate, name="opener")
waiter.start()
opener.start()
waiter.join()
opener.join()
assert passed == [True]
print("ok")
