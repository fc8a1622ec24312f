# Control (finishes): a pipe's write end is dup2()ed onto fd 900 and fd 999
# (fds a preload tool might want for itself), the process forks, the child
# writes 1 MiB through fd 900 and exits, and the parent reads everything
# back and checks it (https://docs.python.org/3/library/os.html#os.dup2).
# The parent blocks reading a pipe that only the child writes: a tool must
# report no deadlock, and must not disturb fds 900 and 999.  Two processes.
import hashlib
import os

r, w = os.pipe()
os.dup2(w, 900)
os.dup2(w, 999)
os.close(w)
payload = bytes(range(256)) * 4096
pid = os.fork()
if pid == 0:
    os.close(r)
    view = memoryview(payload)
    while view:
        view = view[os.write(900, view):]
    os._exit(0)
os.close(900)
os.close(999)
chunks = []
while True:
    chunk = os.read(r, 65536)
    if not chunk:
        break
    chunks.append(chunk)
_, status = os.waitpid(pid, 0)
assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
data = b"".join(chunks)
assert hashlib.sha256(data).digest() == hashlib.sha256(payload).digest()
print("ok")
