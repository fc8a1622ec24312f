# Deadlock: Popen.wait() with stdout=PIPE while the child writes more than a
# pipe holds; the subprocess docs warn "This will deadlock when using
# stdout=PIPE or stderr=PIPE and the child process generates enough output
# to a pipe such that it blocks waiting for the OS pipe buffer to accept
# more data. Use Popen.communicate()"
# (https://docs.python.org/3/library/subprocess.html#subprocess.Popen.wait).
# The child (another python -c) writes 1 MiB to stdout and blocks in
# write(2) once the 64 KiB pipe is full; the parent's main thread blocks in
# proc.wait(), a waitpid() on the child.  Only the parent reading the pipe
# could unblock the child, and only the child's exit could end the parent's
# wait.  Two processes.
import subprocess
import sys

CHILD = "import sys; sys.stdout.write('x' * (1 << 20)); sys.stdout.flush()"

proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE)
print("ready", flush=True)
proc.wait()  # WAIT:main
print(len(proc.stdout.read()))
