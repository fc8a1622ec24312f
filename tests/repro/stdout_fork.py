# Deadlock after fork: sys.stdout's BufferedWriter lock is held by another
# thread, blocked mid-write to a full pipe, when the main thread forks; the
# child's print() then waits for that lock forever.  The io module's buffered
# objects have no at-fork handler, the case raised in bpo-6721
# (https://github.com/python/cpython/issues/50970) and behind the os.fork()
# warning (https://docs.python.org/3/library/os.html#os.fork).
# Fd 1 is replaced by a pipe that nobody reads (a stalled consumer) and
# sys.stdout re-opened on it with default buffering ("ready" goes to a
# duplicate of the original fd 1).  Thread "chatter" prints 4
# pipe-capacities of text: the BufferedWriter takes its lock and blocks in
# write(2) once the pipe is full.  Main polls the pipe's fill level
# (FIONREAD) until it is full, which proves chatter is inside the locked
# write, then forks.  In the child, print(..., flush=True) blocks acquiring
# the BufferedWriter's lock (a PyThread lock, futex wait on its sem_t), held
# by a thread that does not exist in the child: nobody could ever release
# it.  In the parent, main blocks in os.waitpid() for the child and chatter
# in write(2) to the pipe, whose only reader is main.  Two processes.
import array
import fcntl
import os
import sys
import termios
import threading
import time

F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)

console = os.dup(1)  # the original stdout, for "ready"
r, w = os.pipe()
os.dup2(w, 1)
os.close(w)
# Default buffering, as Python sets up a non-tty stdout; under -u or
# PYTHONUNBUFFERED sys.stdout.buffer would be a raw FileIO, which has no lock.
sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
capacity = fcntl.fcntl(1, F_GETPIPE_SZ)


def pipe_fill():
    n = array.array("i", [0])
    fcntl.ioctl(r, termios.FIONREAD, n, True)
    return n[0]


def chatter():
    print("x" * (4 * capacity))  # WAIT:chatter # HOLD:chatter


threading.Thread(target=chatter, name="chatter", daemon=True).start()
while pipe_fill() < capacity:
    time.sleep(0.01)
pid = os.fork()
if pid == 0:
    print("child", os.getpid(), flush=True)  # WAIT:child
    os._exit(0)
os.write(console, b"ready\n")
os.waitpid(pid, 0)  # WAIT:main
