# A stack deeper than pydeadlock reads (12000 Python frames), blocked.
import sys
import threading

sys.setrecursionlimit(20000)
threading.stack_size(256 * 1024 * 1024)  # 3.9 and 3.10 recurse on the C stack
never = threading.Event()


def down(n):
    if n == 0:
        print("ready", flush=True)
        never.wait()  # LINE_BOTTOM
    else:
        down(n - 1)


t = threading.Thread(target=down, args=(12000,), name="deep")
t.start()
t.join()
