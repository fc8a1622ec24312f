# Correct program: many ordinary patterns in sequence; plainly prints ok.
import threading, time, queue, asyncio, subprocess, sys, os, signal, concurrent.futures as cf
# 1 Timer releases a Lock main waits on
L = threading.Lock(); L.acquire()
threading.Timer(0.3, L.release).start(); L.acquire(); L.release()
# 2 Condition notified by a thread that sleeps first
c = threading.Condition(); flag = []
def n():
    time.sleep(0.3)
    with c: flag.append(1); c.notify()
threading.Thread(target=n).start()
with c:
    while not flag: c.wait()
# 3 Semaphore released by a thread doing I/O first
s = threading.Semaphore(0)
def io():
    subprocess.run(["sleep", "0.3"]); s.release()
threading.Thread(target=io).start(); s.acquire()
# 4 pool
with cf.ThreadPoolExecutor(2) as ex:
    assert sum(ex.map(lambda x: (time.sleep(0.1), x)[1], range(6))) == 15
# 5 asyncio + threads
async def amain():
    loop = asyncio.get_running_loop()
    r = await asyncio.to_thread(time.sleep, 0.3)
    fut = loop.run_in_executor(None, lambda: time.sleep(0.2) or 7)
    return await fut
assert asyncio.run(amain()) == 7
# 6 fork in a thread
def f():
    pid = os.fork()
    if pid == 0:
        time.sleep(0.3); os._exit(3)
    assert os.waitpid(pid, 0)[1] >> 8 == 3
t = threading.Thread(target=f); t.start(); t.join()
# 7 subprocess pipes, child sleeps then writes
out = subprocess.run([sys.executable, "-c", "import time; time.sleep(0.5); print('x'*100000)"], capture_output=True).stdout
assert len(out) == 100001
# 8 queue with slow producer
q = queue.Queue(maxsize=1)
def prod():
    for i in range(3): time.sleep(0.2); q.put(i)
threading.Thread(target=prod).start()
assert [q.get() for _ in range(3)] == [0, 1, 2]
# 9 Event set by SIGALRM
ev = threading.Event()
signal.signal(signal.SIGALRM, lambda *a: ev.set()); signal.setitimer(signal.ITIMER_REAL, 0.3)
ev.wait()
# 10 join a thread that waits on a lock released by a timer
L2 = threading.Lock(); L2.acquire()
def w():
    with L2: pass
t = threading.Thread(target=w); t.start()
threading.Timer(0.3, L2.release).start(); t.join()
# 11 daemon thread stuck forever at exit
L3 = threading.Lock(); L3.acquire()
threading.Thread(target=L3.acquire, daemon=True).start()
time.sleep(0.3)
print("ok")
