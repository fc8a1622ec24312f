# Helper module of import_lock.py (not a program of its own).  At import time
# it starts thread "loader", which imports this very module, and then joins
# it.  See import_lock.py for the deadlock this forms.
import threading

TABLE_SIZE = 256


def _warm_up():
    import repro_import_helper  # WAIT:loader

    return repro_import_helper.TABLE_SIZE


_loader = threading.Thread(target=_warm_up, name="loader")
_loader.start()
print("ready", flush=True)
_loader.join()  # WAIT:main
