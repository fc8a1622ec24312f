# Helper module of import_slow_module.py (not a program of its own): takes
# half a second to import.
import time

time.sleep(0.5)
LOADS = 1
