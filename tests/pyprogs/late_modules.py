# A Lock cycle formed after pydeadlock run's supervisor has read this
# process's symbols ahead (1 s), through a module mapped only afterwards:
# alpha, holding a, waits for b inside a SQLite function (libsqlite3 and
# _sqlite3 frames under it); beta, holding b, waits for a.
import sys
import threading
import time

time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 1.5)
import sqlite3  # noqa: E402  (mapped after the read-ahead, on purpose)

a = threading.Lock()
b = threading.Lock()
both = threading.Barrier(2)


def take_b(x):
    b.acquire()
    return x


def alpha():
    con = sqlite3.connect(":memory:")
    con.create_function("take_b", 1, take_b)
    with a:
        both.wait()
        con.execute("select take_b(1)").fetchall()


def beta():
    with b:
        both.wait()
        time.sleep(0.2)
        print("ready", flush=True)
        a.acquire()


ta = threading.Thread(target=alpha, name="alpha")
tb = threading.Thread(target=beta, name="beta")
ta.start()
tb.start()
ta.join()
