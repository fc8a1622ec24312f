# Deadlock: ThreadPoolExecutor.shutdown() called from a signal handler that
# interrupted the main thread inside submit(), as reported in
# https://github.com/python/cpython/issues/121649 ("Deadlock when shutting
# down ThreadPoolExecutor from inside OS Signal handler").  submit() holds the
# executor's non-reentrant _shutdown_lock (and the module's
# _global_shutdown_lock) while it calls _adjust_thread_count(); Python runs
# signal handlers in the main thread between bytecodes, so a handler that
# calls shutdown() there blocks acquiring _shutdown_lock, which the
# interrupted submit() frame below it on the same stack holds.  The report
# sends SIGTERM at a random moment into a submit() loop; to make the timing
# deterministic this executor subclass raises SIGUSR1 from inside
# _adjust_thread_count() of the first submit(), i.e. while the lock is held
# (signal.raise_signal() runs the handler at once, in the main thread).
# Final state: the main thread, the only thread (no worker was started yet),
# holds _shutdown_lock (taken in submit()) and blocks acquiring it again in
# shutdown(); only the main thread could release it.
import concurrent.futures
import signal


class SignalledExecutor(concurrent.futures.ThreadPoolExecutor):
    armed = True

    def _adjust_thread_count(self):
        if self.armed:
            self.armed = False
            signal.raise_signal(signal.SIGUSR1)  # "arrives" inside submit()
        super()._adjust_thread_count()


executor = SignalledExecutor(max_workers=2, thread_name_prefix="pool")


def on_usr1(signum, frame):
    executor.shutdown(wait=True, cancel_futures=True)  # WAIT:main


signal.signal(signal.SIGUSR1, on_usr1)
print("ready", flush=True)
while True:
    executor.submit(pow, 2, 10)  # HOLD:main
