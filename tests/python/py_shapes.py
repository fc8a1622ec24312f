"""Python programs of known shape for tests/python/run-py-dump.sh.

Usage: python py_shapes.py CASE EXPECT_JSON
Sets up the threads of CASE, writes EXPECT_JSON (thread names, native
ids, idents) once every thread is where it should be, then stays there
until killed.  Lines that a thread waits at carry a "# @mark" comment;
check_dump.py finds their numbers in this file.
"""
import json
import os
import queue
import sys
import threading
import time

lock = threading.Lock()
rlock = threading.RLock()
cond = threading.Condition()
q = queue.Queue()
never = threading.Event()
threads = []


def spawn(name, target, *args):
    t = threading.Thread(target=target, args=args, name=name, daemon=True)
    threads.append(t)
    t.start()
    return t


def ids():
    return {t.name: {"tid": t.native_id, "ident": t.ident} for t in threads}


def named(name):
    return [t for t in threads if t.name == name][0]


def task_state(tid):
    """The kernel's state letter of thread tid ("S": sleeping)."""
    try:
        with open("/proc/self/task/%d/stat" % tid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "?"


def wait_blocked(names, timeout=10.0):
    """Waits until each named thread sleeps in the kernel."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(task_state(named(n).native_id) == "S" for n in names):
            time.sleep(0.2)
            return
        time.sleep(0.01)


# locks: holders and waiters of every kind
def hold_lock():
    with lock:
        never.wait()  # @hold-lock


def h():
    with lock:  # @wait-lock
        pass


def g():
    h()


def f():
    g()


def hold_rlock():
    with rlock:
        with rlock:
            never.wait()  # @hold-rlock


def rwait():
    with rlock:  # @wait-rlock
        pass


def cwait():
    with cond:
        cond.wait()  # @wait-cond


def qwait():
    q.get()  # @wait-queue


def jwait(t):
    t.join()  # @wait-join


def block():
    never.wait()  # @wait-forever


def swait():
    time.sleep(100000)  # @wait-sleep


def spin():
    n = 0
    while True:  # @spin-loop
        n += 1  # @spin


def recurse(n, stop):
    if n <= 1:
        stop.wait()  # @deep
        return
    recurse(n - 1, stop)


def nest3():
    nest2()


def nest2():
    nest1()


def nest1():
    with lock:  # @many
        pass


def setup(case):
    if case == "locks":
        spawn("worker-1", hold_lock)
        time.sleep(0.1)
        spawn("worker-2", f)
        spawn("worker-3", f)
        spawn("rholder", hold_rlock)
        time.sleep(0.1)
        spawn("rwaiter", rwait)
        spawn("cwaiter", cwait)
        spawn("qwaiter", qwait)
        spawn("joiner", jwait, threads[0])
        spawn("sleeper", swait)
        wait_blocked([t.name for t in threads])
    elif case == "busy":
        spawn("sleeper", swait)
        spawn("spinner", spin)
        time.sleep(0.3)
    elif case == "deep":
        threading.stack_size(512 << 20)
        sys.setrecursionlimit(30000)
        spawn("deep", recurse, 5000, never)
        spawn("deeper", recurse, 10100, never)
        wait_blocked(["deep", "deeper"], timeout=30)
    elif case == "join":
        spawn("sleeper-target", block)
        spawn("joiner", jwait, named("sleeper-target"))
        wait_blocked(["sleeper-target", "joiner"])
    elif case == "many":
        spawn("worker-0", hold_lock)
        time.sleep(0.1)
        for i in range(1, 100):
            spawn("worker-%d" % i, nest3)
        wait_blocked([t.name for t in threads], timeout=30)
    else:
        sys.exit("unknown case " + case)


def report(case, out):
    """Writes EXPECT_JSON, which tells run-py-dump.sh to read us."""
    main = threading.main_thread()
    expect = {"case": case, "pid": os.getpid(),
              "version": "%d.%d.%d" % sys.version_info[:3],
              "main": {"tid": main.native_id, "ident": main.ident},
              "threads": ids()}
    with open(out + ".tmp", "w") as f:
        json.dump(expect, f)
    os.rename(out + ".tmp", out)


JOIN_FRAMES = ("join", "_wait_for_tstate_lock")  # 3.13, 3.9 to 3.12


def report_when_joining(case, out, timeout=10.0):
    """Reports once the main thread sleeps inside Thread.join."""
    main = threading.main_thread()
    deadline = time.time() + timeout
    while time.time() < deadline:
        frame = sys._current_frames().get(main.ident)
        joining = frame and frame.f_code.co_name in JOIN_FRAMES
        if joining and task_state(main.native_id) == "S":
            time.sleep(0.2)
            break
        time.sleep(0.01)
    report(case, out)
    never.wait()


def main():
    case, out = sys.argv[1], sys.argv[2]
    setup(case)
    if case == "join":
        spawn("reporter", report_when_joining, case, out)
        named("joiner").join()  # @main-join
    else:
        report(case, out)
        never.wait()  # @main-wait


main()
