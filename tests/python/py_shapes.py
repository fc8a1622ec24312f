"""Python programs of known shape for tests/python/run-py-dump.sh.

Usage: python py_shapes.py CASE EXPECT_JSON
Sets up the threads of CASE, writes EXPECT_JSON (thread names, native
ids, idents) once every thread is where it should be, then stays there
until killed.  Lines that a thread waits at carry a "# @mark" comment;
check_dump.py finds their numbers in this file.
"""
import io
import json
import multiprocessing
import os
import queue
import signal
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
    with lock:  # @hold-lock-with
        never.wait()  # @hold-lock


def h():
    with lock:  # @wait-lock
        pass


def g():
    h()


def f():
    g()


def hold_rlock():
    with rlock:  # @hold-rlock-outer
        with rlock:  # @hold-rlock-inner
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


# with: locks held by `with` blocks, and some that are not
W = {"lock": lock, "rlock": rlock}  # name -> object, for check_dump.py
# case -> thread -> the locks its with blocks hold, innermost first:
# [(name of the object whose __exit__ holds it or None, name of the lock,
#   mark of the with statement, function)]
HELD = {
    "locks": {"worker-1": [(None, "lock", "hold-lock-with", "hold_lock")],
              "rholder": [(None, "rlock", "hold-rlock-inner", "hold_rlock"),
                          (None, "rlock", "hold-rlock-outer",
                           "hold_rlock")]},
    "many": {"worker-0": [(None, "lock", "hold-lock-with", "hold_lock")]},
}


def with_locks():
    for name in ("lk_exited", "lk_acq", "lk_cond_f", "lk_s1", "lk_s2",
                 "lk_s3", "lk_s4", "lk_s6", "lk_s7", "lk_s8",
                 "lk_stale_wait",
                 "lk_busy"):
        W[name] = threading.Lock()
    for name in ("rl_b", "rl_s5", "rl_enter", "rl_cw"):
        W[name] = threading.RLock()
    for name in ("lk_cw2", "lk_cw_other"):
        W[name] = threading.Lock()
    W["cond_cw"] = threading.Condition(W["rl_cw"])
    W["cond_cw2"] = threading.Condition(W["lk_cw2"])
    W["cond_c"] = threading.Condition()
    W["cond_f"] = threading.Condition(W["lk_cond_f"])
    W["sem_d"] = threading.Semaphore(3)
    W["bsem_e"] = threading.BoundedSemaphore(2)
    W["mp_lock"] = multiprocessing.Lock()
    W["mp_cond"] = multiprocessing.Condition(multiprocessing.Lock())
    W["cond_c._lock"] = W["cond_c"]._lock
    W["mp_lock._semlock"] = W["mp_lock"]._semlock
    W["mp_cond._semlock"] = W["mp_cond"]._lock._semlock


def with_nested():
    with W["lk_exited"]:        # exited before the wait: not held
        pass
    with W["rl_b"]:  # @with-rlock
        try:
            with_inner()
        finally:
            pass


def with_inner():
    with W["cond_c"]:  # @with-cond
        with W["sem_d"]:  # @with-sem
            W["lk_acq"].acquire()       # acquire(): not with-held
            try:
                with W["bsem_e"]:  # @with-bsem
                    with W["cond_f"]:  # @with-cond-lock
                        never.wait()  # @with-wait
            finally:
                pass


def with_stale():
    with W["lk_s1"]:
        with W["lk_s2"]:
            with W["lk_s3"]:
                with W["lk_s4"]:
                    pass
    with W["rl_s5"]:  # @with-stale-live
        with W["lk_s6"]:
            with W["lk_s7"]:
                pass
        W["lk_stale_wait"].acquire()  # @with-stale-wait


def with_stale_exc():
    try:
        for _ in [1]:
            for _ in [2]:
                for _ in [3]:
                    with W["lk_s8"]:    # left by the exception, whose
                        raise ValueError  # __exit__ stays above the top
    except ValueError:
        pass
    W["lk_stale_wait"].acquire()  # @with-stale-exc-wait


def with_holder():
    with W["lk_busy"]:  # @with-busy
        never.wait()


def with_enter():
    with W["rl_enter"]:  # @with-enter-outer
        with W["lk_busy"]:  # @with-enter-wait
            pass


def with_cond_wait():
    with W["rl_cw"]:            # released, both levels, by the wait
        with W["cond_cw"]:
            W["cond_cw"].wait()  # @with-condwait


def with_cond_wait2():
    with W["lk_cw_other"]:  # @with-condwait2-other
        with W["lk_cw2"]:       # released by the wait
            W["cond_cw2"].wait()  # @with-condwait2


def with_mp():
    with W["mp_lock"]:  # @with-mp
        with W["mp_cond"]:  # @with-mp-cond
            never.wait()


HELD["with"] = {
    "w-nested": [("cond_f", "lk_cond_f", "with-cond-lock", "with_inner"),
                 (None, "bsem_e", "with-bsem", "with_inner"),
                 (None, "sem_d", "with-sem", "with_inner"),
                 ("cond_c", "cond_c._lock", "with-cond", "with_inner"),
                 (None, "rl_b", "with-rlock", "with_nested")],
    "w-stale": [(None, "rl_s5", "with-stale-live", "with_stale")],
    "w-stale-exc": [],
    "w-holder": [(None, "lk_busy", "with-busy", "with_holder")],
    "w-enter": [(None, "rl_enter", "with-enter-outer", "with_enter")],
    "w-condwait": [],
    "w-condwait2": [(None, "lk_cw_other", "with-condwait2-other",
                     "with_cond_wait2")],
    "w-mp": [("mp_cond", "mp_cond._semlock", "with-mp-cond", "with_mp"),
             ("mp_lock", "mp_lock._semlock", "with-mp", "with_mp")],
}


# objects: more lock objects behind native waits, module locks, signals
class SlowRaw(io.RawIOBase):
    """A raw stream whose write never returns: its buffer stays locked."""
    def writable(self):
        return True

    def write(self, b):
        never.wait()  # @slow-write
        return len(b)


def mp_hold():
    W["mp_lock"].acquire()
    never.wait()  # @mp-hold


def mp_wait():
    W["mp_lock"].acquire()  # @mp-wait


def mprl_hold():
    W["mp_rlock"].acquire()
    never.wait()


def mprl_wait():
    W["mp_rlock"].acquire()  # @mprl-wait


def sq_wait():
    W["sq"].get()  # @sq-wait


def buf_hold():
    W["slow"].write(b"x" * 100000)


def buf_wait():
    W["slow"].write(b"y")  # @buf-wait


def read_hold():
    W["rpipe"].read(10)  # @read-hold


def read_wait():
    W["rpipe"].read(1)  # @read-wait


def print_hold():
    print("x" * 300000, flush=True)  # @print-hold


def print_wait():
    print("y", flush=True)  # @print-wait


def import_hold():
    import pd_slow_module  # @import-hold


def import_wait():
    import pd_slow_module  # @import-wait


SLOW_MODULE = "import __main__\n__main__.never.wait()\n"
# signals with a Python handler: SIGUSR1 and SIGALRM, not the others
# (never SIGTERM: run-py-dump.sh ends the program with it)
CUSTOM_SIGNALS = (signal.SIGUSR1, signal.SIGALRM)


def objects_setup(out):
    W["mp_lock"] = multiprocessing.Lock()
    W["mp_rlock"] = multiprocessing.RLock()
    W["mp_rlock._semlock"] = W["mp_rlock"]._semlock
    W["sq"] = queue.SimpleQueue()
    W["slow"] = io.BufferedWriter(SlowRaw())
    r, w = os.pipe()
    W["rpipe"] = open(r, "rb")
    W["wpipe"] = w          # kept open: the reads never end
    W["mp_lock._semlock"] = W["mp_lock"]._semlock
    # stdout into a pipe nobody reads: the first print blocks in write(2)
    r, w = os.pipe()
    os.dup2(w, 1)
    W["stdout.buffer"] = sys.stdout.buffer
    W["stdout_pipe"] = r
    moddir = os.path.dirname(os.path.abspath(out))
    with open(os.path.join(moddir, "pd_slow_module.py"), "w") as f:
        f.write(SLOW_MODULE)
    sys.path.insert(0, moddir)
    for s in CUSTOM_SIGNALS:
        signal.signal(s, lambda n, frame: None)
    signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.default_int_handler)


def setup(case, out):
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
    elif case == "with":
        with_locks()
        W["lk_stale_wait"].acquire()    # w-stale waits for it
        spawn("w-nested", with_nested)
        spawn("w-stale", with_stale)
        spawn("w-stale-exc", with_stale_exc)
        spawn("w-holder", with_holder)
        time.sleep(0.1)
        spawn("w-enter", with_enter)
        spawn("w-mp", with_mp)
        spawn("w-condwait", with_cond_wait)
        spawn("w-condwait2", with_cond_wait2)
        wait_blocked([t.name for t in threads])
    elif case == "objects":
        objects_setup(out)
        for name, fn in (("mp-hold", mp_hold), ("mp-wait", mp_wait),
                         ("mprl-hold", mprl_hold), ("mprl-wait", mprl_wait),
                         ("sq-wait", sq_wait), ("buf-hold", buf_hold),
                         ("buf-wait", buf_wait), ("read-hold", read_hold),
                         ("read-wait", read_wait),
                         ("print-hold", print_hold),
                         ("print-wait", print_wait),
                         ("import-hold", import_hold),
                         ("import-wait", import_wait)):
            spawn(name, fn)
            time.sleep(0.1)
        wait_blocked([t.name for t in threads])
    else:
        sys.exit("unknown case " + case)


def report(case, out):
    """Writes EXPECT_JSON, which tells run-py-dump.sh to read us."""
    main = threading.main_thread()
    expect = {"case": case, "pid": os.getpid(),
              "version": "%d.%d.%d" % sys.version_info[:3],
              "main": {"tid": main.native_id, "ident": main.ident},
              "threads": ids(),
              "objects": {k: id(v) for k, v in W.items()},
              "held": HELD.get(case, {}),
              "signals": sum(1 << (s - 1) for s in CUSTOM_SIGNALS)
              if case == "objects" else 0}
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
    setup(case, out)
    if case == "join":
        spawn("reporter", report_when_joining, case, out)
        named("joiner").join()  # @main-join
    else:
        report(case, out)
        never.wait()  # @main-wait


main()
