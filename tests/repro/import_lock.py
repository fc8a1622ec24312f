# Deadlock through the import system: a module that, at import time, starts
# a thread which imports that same module, and then joins the thread.  The
# threading docs forbid exactly this: "an import should not have the side
# effect of spawning a new thread and then waiting for that thread in any
# way. Failing to abide by this restriction can lead to a deadlock if the
# spawned thread directly or indirectly attempts to import a module"
# (https://docs.python.org/3/library/threading.html#importing-in-threaded-code).
# The main thread imports repro_import_helper (this takes the helper's
# per-module import lock, importlib._bootstrap._ModuleLock) and, while
# executing the helper's body, blocks in loader.join(); thread "loader" runs
# "import repro_import_helper", finds the module still initialising and
# blocks on that module lock.  Only main could release the module lock (by
# finishing the import) and only loader's exit could end main's join.  The
# WAIT markers are in repro_import_helper.py, which also prints "ready".
import repro_import_helper  # HOLD:main

print(repro_import_helper.TABLE_SIZE)
