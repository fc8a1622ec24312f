"""A real lock-order inversion in the standard library's logging, seen by
run --lock-order in CPython's test_logging, reproduced in one thread.

logging.config.dictConfig() holds logging's module lock while it shuts
the existing handlers down, taking each handler's lock; FileHandler.close()
holds its handler's lock while Handler.close() takes the module lock.
A thread closing a file handler while another reconfigures logging can
deadlock.  Nothing overlaps here, so this program ends well.
"""
import logging
import logging.config
import os
import tempfile

d = tempfile.mkdtemp()
old = logging.FileHandler(os.path.join(d, "old.log"))
logging.getLogger().addHandler(old)
logging.config.dictConfig({"version": 1})   # module lock, then old's
new = logging.FileHandler(os.path.join(d, "new.log"))
new.close()                                  # new's lock, then the module's
print("ok")
