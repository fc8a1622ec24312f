# A process-shared semaphore the shim never saw made: sem_init is called
# through libc's own handle (ctypes.CDLL("libc.so.6") resolves it inside
# libc, past the preloaded shim), on shared memory, before a fork.  The
# child waits on it through the default symbol (the shim's); the parent
# posts it after a second.  Plainly: "ok".  A checker that knew the
# semaphore only from a sem_init or sem_open it intercepted would take the
# wait for one on a private object, and the child, alone in its process,
# for deadlocked.
import ctypes
import mmap
import os
import time

libc = ctypes.CDLL("libc.so.6", use_errno=True)
default = ctypes.CDLL(None, use_errno=True)     # what a PLT call reaches
shared = mmap.mmap(-1, 64, mmap.MAP_SHARED)
sem = ctypes.c_void_p(ctypes.addressof(ctypes.c_char.from_buffer(shared)))
assert libc.sem_init(sem, 1, 0) == 0
pid = os.fork()
if pid == 0:
    print("ready", flush=True)
    default.sem_wait(sem)  # WAIT:child
    os._exit(0)
time.sleep(1)
libc.sem_post(sem)
_, status = os.waitpid(pid, 0)
print("ok" if status == 0 else "child status %d" % status)
