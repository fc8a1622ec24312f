# Control (finishes): the shape of sqlite_function_gil.py, but the
# registering thread uses its own connection, so create_function() takes a
# different connection mutex than the one held by the running query
# (https://docs.python.org/3/library/sqlite3.html#sqlite3-connection-context-manager
# and https://docs.python.org/3/library/sqlite3.html#sqlite3.threadsafety).
# Registrar keeps the GIL only briefly, the query's UDF gets the GIL back,
# sees the registration and ends the query.  A tool must report no deadlock.
import sqlite3
import threading

conn = sqlite3.connect(":memory:", check_same_thread=False)
scanning = threading.Event()
registered = threading.Event()


def keep_going(x):
    scanning.set()
    return 0 if registered.is_set() else 1


SCAN = ("WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL "
        "SELECT x + 1 FROM seq WHERE keep_going(x)) SELECT count(*) FROM seq")
result = []


def scan():
    result.append(conn.execute(SCAN).fetchone()[0])


def register():
    scanning.wait()
    own = sqlite3.connect(":memory:")
    own.create_function("title_sort", 1, str.lower)
    assert own.execute("SELECT title_sort('ABC')").fetchone()[0] == "abc"
    own.close()
    registered.set()


conn.create_function("keep_going", 1, keep_going)
scanner = threading.Thread(target=scan, name="scanner")
registrar = threading.Thread(target=register, name="registrar")
scanner.start()
registrar.start()
scanner.join()
registrar.join()
assert result[0] >= 1
print("ok")
