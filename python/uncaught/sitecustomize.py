"""pydeadlock run --abort-on-uncaught: an uncaught exception in any thread
ends the whole program with that thread's traceback and status 1, instead
of a dead thread and, later, a hang.

Python's site module imports this file first because ``pydeadlock run``
put its directory first on ``PYTHONPATH`` (and only with that option).
Any other ``sitecustomize`` further along the path (the system's, the
program's own) is run after it, as it would have been.
"""

import os
import sys
import threading
import traceback

_STATUS = 1  # common/exit_status.h: EXIT_UNCAUGHT


def _end(exc_type, exc, tb, where):
    try:
        sys.stderr.write("pydeadlock: uncaught exception in %s; ending the "
                         "program (exit status %d, --abort-on-uncaught)\n"
                         % (where, _STATUS))
        traceback.print_exception(exc_type, exc, tb)
        sys.stderr.flush()
    finally:
        os._exit(_STATUS)


def _thread_hook(args):
    if args.exc_type is SystemExit:
        return  # threading's own rule: a thread may exit this way
    name = args.thread.name if args.thread is not None else "?"
    _end(args.exc_type, args.exc_value, args.exc_traceback,
         "thread %r" % name)


def _main_hook(exc_type, exc, tb):
    if issubclass(exc_type, SystemExit):
        sys.__excepthook__(exc_type, exc, tb)
        return
    _end(exc_type, exc, tb, "the main thread")


threading.excepthook = _thread_hook
sys.excepthook = _main_hook


def _chain():
    """Run the sitecustomize this one hides, if there is one."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    for entry in sys.path:
        if os.path.abspath(entry or os.curdir) == here:
            continue
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize",
                                                        [entry])
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        sys.modules["sitecustomize"] = module
        spec.loader.exec_module(module)
        return


_chain()
