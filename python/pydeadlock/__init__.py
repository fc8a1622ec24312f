"""pydeadlock's Python side.

Under ``pydeadlock run --on-deadlock=break`` a lock wait that would close
a deadlock cycle raises :class:`DeadlockError` at the line that waited,
so that ``with lock:`` or ``lock.acquire()`` can be caught and retried.
``pydeadlock run`` puts this package on ``PYTHONPATH``.  Outside the tool,
import it with a fallback::

    try:
        from pydeadlock import DeadlockError
    except ImportError:
        class DeadlockError(RuntimeError):
            pass
"""


class DeadlockError(RuntimeError):
    """A lock wait was failed because it would never end (a deadlock).

    The lock was not acquired; every other thread goes on.  The message
    names the cycle.
    """


__all__ = ["DeadlockError"]
