# Deadlock: a finalizer (__del__) run by the garbage collector while the
# collecting thread already holds the plain Lock the finalizer takes.  The
# data model docs warn that __del__ "can be executed during arbitrary code
# ... If __del__() needs to take a lock ... it may deadlock as the resource
# may already be taken by the code that gets interrupted to execute
# __del__()" (https://docs.python.org/3/reference/datamodel.html#object.__del__).
# Automatic collection is disabled and two Handles form an unreachable
# reference cycle; thread "cache" takes registry_lock and calls
# gc.collect(), which runs Handle.__del__ in "cache", which blocks acquiring
# registry_lock again.  Only "cache" could release registry_lock; main
# blocks in cache.join(), which only the exit of "cache" could end.
import gc
import threading

gc.disable()
registry_lock = threading.Lock()
live_handles = set()


class Handle:
    def __init__(self, key):
        self.key = key
        self.peer = None
        with registry_lock:
            live_handles.add(key)

    def __del__(self):
        with registry_lock:  # WAIT:cache
            live_handles.discard(self.key)


def make_garbage():
    a = Handle("a")
    b = Handle("b")
    a.peer = b
    b.peer = a


def compact():
    with registry_lock:  # HOLD:cache
        gc.collect()


make_garbage()
cache = threading.Thread(target=compact, name="cache")
cache.start()
print("ready", flush=True)
cache.join()  # WAIT:main
