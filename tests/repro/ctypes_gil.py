# Deadlock between the GIL and a pthread mutex through ctypes.  Functions of
# a ctypes.PyDLL keep the GIL during the call ("the Python GIL is not
# released during the function call",
# https://docs.python.org/3/library/ctypes.html#ctypes.PyDLL); a real
# instance of this GIL-vs-native-lock shape is
# https://github.com/joblib/threadpoolctl/issues/239.  No compilation: libc's
# own pthread_mutex_lock is called through both a CDLL (GIL released) and a
# PyDLL (GIL kept), on a pthread_mutex_t in a ctypes buffer.
# Thread "holder" locks the mutex through the CDLL and then, still holding
# it, runs Python code that polls for a waiter (glibc's lock word becomes 2
# when a thread blocks on the mutex) before handing the mutex over; each
# poll needs the GIL.  The main thread locks the same mutex through the
# PyDLL: it blocks in futex wait on the mutex while keeping the GIL, so the
# holder blocks taking the GIL when its usleep() returns and can never see
# the waiter.  Only holder could unlock the mutex and only main could
# release the GIL.  With CDLL instead of PyDLL for main's call the program
# would finish.
import ctypes
import threading

libc_nogil = ctypes.CDLL("libc.so.6")
libc_gil = ctypes.PyDLL("libc.so.6")

mutex = ctypes.create_string_buffer(64)  # pthread_mutex_t is 40 bytes
libc_nogil.pthread_mutex_init(mutex, None)
lock_word = ctypes.c_int.from_buffer(mutex)  # glibc __data.__lock
held = threading.Event()


def hold_then_hand_over():
    libc_nogil.pthread_mutex_lock(mutex)  # HOLD:holder
    held.set()
    while lock_word.value != 2: libc_nogil.usleep(1000)  # WAIT:holder
    libc_nogil.pthread_mutex_unlock(mutex)


holder = threading.Thread(target=hold_then_hand_over, name="holder")
holder.start()
held.wait()
print("ready", flush=True)
libc_gil.pthread_mutex_lock(mutex)  # WAIT:main
libc_gil.pthread_mutex_unlock(mutex)
holder.join()
print("ok")
