# Deadlock between the GIL and SQLite's per-connection mutex: one thread
# runs a query whose SQLite user-defined function needs the GIL, while
# another thread, holding the GIL, calls Connection.create_function() on the
# same connection, which needs the connection mutex.  Reported against a
# shared SQLAlchemy StaticPool connection in
# https://github.com/new-usemame/Calibre-Web-NextGen/pull/212 ("that call
# held the GIL while a concurrent worker thread mid-query waited for the GIL
# to invoke the registered UDF"); the same GIL-held-while-taking-the-db-mutex
# class in CPython's own sqlite3 module is
# https://github.com/python/cpython/issues/86864 (bpo-42698).
# Thread "scanner" runs one sqlite3_step() (GIL released, connection mutex
# held for the whole step) that calls the UDF keep_going() once per row of a
# recursive CTE; the step only ends when keep_going() sees the registration
# done.  Thread "registrar" waits until keep_going() has run once, then calls
# create_function(), which keeps the GIL and blocks in
# sqlite3_create_function_v2() on the connection mutex (a pthread mutex)
# held by scanner.  Scanner's next keep_going() call blocks taking the GIL
# (PyGILState_Ensure), held by registrar.  Only scanner could release the
# connection mutex and only registrar the GIL.  Main blocks in
# scanner.join().  Requires SQLite built thread-safe (serialized), as
# Debian's libsqlite3 is.
import sqlite3
import threading

conn = sqlite3.connect(":memory:", check_same_thread=False)
scanning = threading.Event()
go = threading.Event()
registered = threading.Event()


def keep_going(x):
    scanning.set()
    return 0 if registered.is_set() else 1


SCAN = ("WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL "
        "SELECT x + 1 FROM seq WHERE keep_going(x)) SELECT count(*) FROM seq")


def scan():
    rows = conn.execute(SCAN).fetchone()  # WAIT:scanner # HOLD:scanner
    print("scanned", rows[0])


def register():
    scanning.wait()
    go.wait()
    conn.create_function("title_sort", 1, str.lower)  # WAIT:registrar
    registered.set()


conn.create_function("keep_going", 1, keep_going)
scanner = threading.Thread(target=scan, name="scanner")
registrar = threading.Thread(target=register, name="registrar")
scanner.start()
registrar.start()
print("ready", flush=True)
go.set()
scanner.join()  # WAIT:main
