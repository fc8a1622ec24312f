# Not a deadlock: "sleeper" sleeps in C through ctypes.PyDLL, keeping the
# GIL; "spinner" waits for the GIL.  The sleep will end.
import ctypes
import ctypes.util
import threading
import time

libc_gil = ctypes.PyDLL(ctypes.util.find_library("c"))
started = threading.Event()


def spinner():
    started.set()
    n = 0
    while True:
        n += 1  # LINE_SPIN


def sleeper():
    started.wait()
    time.sleep(0.2)
    libc_gil.sleep(3600)  # LINE_SLEEP


threading.Thread(target=spinner, name="spinner", daemon=True).start()
threading.Thread(target=sleeper, name="sleeper", daemon=True).start()
print("ready", flush=True)
threading.Event().wait()  # LINE_MAIN
