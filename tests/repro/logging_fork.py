# Deadlock after fork: a logging handler's lock is held by another thread at
# os.fork(), and the child then logs through that handler (bpo-6721,
# https://github.com/python/cpython/issues/50970).  Since 3.9 logging
# re-initialises its module lock and the lock of every handler made by
# Handler.createLock() in the child; this handler, written in the older
# style, builds its own lock in createLock() without registering it, so the
# child inherits it locked.  Thread "shipper" logs a record; Handler.handle()
# takes the handler's RLock and emit() waits for an acknowledgement (an
# Event) that main gives only after the child has exited.  Main forks while
# shipper is inside emit(), so in the child the RLock's underlying lock is
# held by a thread that does not exist there; the child's main thread blocks
# acquiring it (RLock.acquire, a futex wait on its sem_t), and nobody in the
# child could ever release it.  The parent's main thread blocks in
# os.waitpid() for the child, and shipper blocks in acked.wait(), which only
# the parent's main thread would set.  Two processes.
import logging
import os
import threading

in_emit = threading.Event()
acked = threading.Event()
shipped = []


class AckingHandler(logging.Handler):
    def createLock(self):
        self.lock = threading.RLock()  # not registered for re-init at fork

    def emit(self, record):
        line = self.format(record)
        in_emit.set()
        acked.wait()  # WAIT:shipper
        shipped.append(line)


log = logging.getLogger("app")
log.propagate = False
log.addHandler(AckingHandler())


def ship():
    log.warning("disk almost full")  # HOLD:shipper


shipper = threading.Thread(target=ship, name="shipper")
shipper.start()
in_emit.wait()
print("ready", flush=True)
pid = os.fork()
if pid == 0:
    log.warning("child %d started", os.getpid())  # WAIT:child
    os._exit(0)
os.waitpid(pid, 0)  # WAIT:main
acked.set()
shipper.join()
