# Control (finishes): ctypes_gil.py with main's pthread_mutex_lock() called
# through a ctypes.CDLL, which releases the GIL during the call
# (https://docs.python.org/3/library/ctypes.html#loading-shared-libraries).
# Main blocks on the mutex held by "holder" without the GIL, so holder's
# polling sees the waiter and unlocks.  A tool must report no deadlock.
import ctypes
import threading

libc_nogil = ctypes.CDLL("libc.so.6")

mutex = ctypes.create_string_buffer(64)
libc_nogil.pthread_mutex_init(mutex, None)
lock_word = ctypes.c_int.from_buffer(mutex)
held = threading.Event()


def hold_then_hand_over():
    libc_nogil.pthread_mutex_lock(mutex)
    held.set()
    while lock_word.value != 2:
        libc_nogil.usleep(1000)
    libc_nogil.pthread_mutex_unlock(mutex)


holder = threading.Thread(target=hold_then_hand_over, name="holder")
holder.start()
held.wait()
libc_nogil.pthread_mutex_lock(mutex)
libc_nogil.pthread_mutex_unlock(mutex)
holder.join()
print("ok")
