# Control (finishes): two threads import the same slow module at the same
# time (its body sleeps 0.5 s).  The second importer waits on the module's
# import lock held by the first until the module is initialised; the import
# system's per-module locks make this safe (the restriction in
# https://docs.python.org/3/library/threading.html#importing-in-threaded-code
# is only on imports that wait for threads).  A tool must report no
# deadlock.  Helper module: repro_slow_module.py.
import threading

start = threading.Barrier(2)
modules = {}


def load(name):
    start.wait()
    import repro_slow_module
    modules[name] = repro_slow_module


threads = [threading.Thread(target=load, args=(n,), name=n)
           for n in ("importer1", "importer2")]
for t in threads:
    t.start()
for t in threads:
    t.join()
assert modules["importer1"] is modules["importer2"]
assert modules["importer1"].LOADS == 1
print("ok")
