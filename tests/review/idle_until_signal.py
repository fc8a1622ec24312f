# Correct program: a service whose threads idle until a signal: main waits
# on an Event set by its SIGUSR1 handler, a worker waits on a queue.  A
# child process sends SIGUSR1 after N seconds (argv[1], default 7).
import os, signal, subprocess, sys, threading, queue
stop = threading.Event(); q = queue.Queue()
signal.signal(signal.SIGUSR1, lambda *a: stop.set())
def worker():
    while q.get() is not None:
        pass
t = threading.Thread(target=worker); t.start()
delay = sys.argv[1] if len(sys.argv) > 1 else "7"
subprocess.Popen(["sh", "-c", f"sleep {delay}; kill -USR1 {os.getpid()}"])
stop.wait()
q.put(None); t.join()
print("ok")
