# Control (finishes): the correct form of popen_wait_pipe.py, reading the
# child's 1 MiB of output with Popen.communicate() instead of calling
# wait() first (https://docs.python.org/3/library/subprocess.html#subprocess.Popen.communicate).
# The child blocks writing while the parent reads, then exits.  A tool must
# report no deadlock.  Two processes.
import subprocess
import sys

CHILD = "import sys; sys.stdout.write('x' * (1 << 20)); sys.stdout.flush()"

proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE)
out, _ = proc.communicate()
assert len(out) == 1 << 20
assert proc.returncode == 0
print("ok")
