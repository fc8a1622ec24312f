# Join while holding a lock: main holds "config" and joins "worker";
# "worker" needs "config" first.  Neither can go on.
import threading

config = threading.Lock()
main_holds = threading.Event()


def worker():
    main_holds.wait()
    with config:  # LINE_WORKER
        pass


t = threading.Thread(target=worker, name="worker")
t.start()
with config:  # LINE_MAIN_HOLDS
    main_holds.set()
    t.join()  # LINE_JOIN
