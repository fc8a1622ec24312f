# A cycle through the GIL: "holder" calls pthread_mutex_lock through
# ctypes.PyDLL, which keeps the GIL, on a mutex that "taker" holds; "taker"
# then needs the GIL back to go on.
import ctypes
import ctypes.util
import threading
import time

libc_nogil = ctypes.CDLL(ctypes.util.find_library("c"))    # releases the GIL
libc_gil = ctypes.PyDLL(ctypes.util.find_library("c"))     # keeps it
mutex = ctypes.create_string_buffer(64)                    # PTHREAD_MUTEX_INITIALIZER
taken = threading.Event()


def taker():
    libc_nogil.pthread_mutex_lock(mutex)
    taken.set()
    time.sleep(0.5)  # LINE_TAKER
    libc_nogil.pthread_mutex_unlock(mutex)


def holder():
    taken.wait()
    libc_gil.pthread_mutex_lock(mutex)  # LINE_HOLDER


t1 = threading.Thread(target=taker, name="taker")
t2 = threading.Thread(target=holder, name="holder")
t1.start()
print("ready", flush=True)   # before holder can take the GIL for good
t2.start()
t1.join()  # LINE_MAIN
