"""Checks pydeadlock's JSON report of a Python program of known shape.

usage: check.py SCENARIO REPORT.json PROGRAM.py
Lines are found from the "# LINE_x" markers in the program, so nothing
here depends on line numbers.  Exits non-zero with a message on the first
thing that is wrong.
"""
import json
import sys

scenario, report_path, program = sys.argv[1:4]
report = json.load(open(report_path))
source = open(program).read().splitlines()
LINE = {}
for number, text in enumerate(source, 1):
    if "# LINE_" in text:
        LINE[text.split("# LINE_")[1].split()[0]] = number
threads = {t["name"]: t for t in report["threads"]}


def fail(msg):
    sys.exit("%s: %s" % (scenario, msg))


def thread(name):
    if name not in threads:
        fail("no thread named %r (have %s)" % (name, sorted(threads)))
    return threads[name]


def python_frames(t):
    return [f for f in t["frames"] if f["python"]]


def innermost_python(t):
    frames = python_frames(t)
    if not frames:
        fail("%s has no Python frames" % t["name"])
    return frames[0]


def expect_wait(name, kind, marker, owner=None, pytype=None):
    t = thread(name)
    w = t["waits_for"]
    if t["state"] != "waiting" or not w:
        fail("%s: state %s, want waiting for %s" % (name, t["state"], kind))
    if w["kind"] != kind:
        fail("%s waits for %s, want %s" % (name, w["kind"], kind))
    site = w["site"] or {}
    if site.get("line") != LINE[marker] or not site.get("file", "").endswith(program.split("/")[-1]):
        fail("%s waits at %s, want line %d" % (name, site, LINE[marker]))
    if pytype and w["type"] != pytype:
        fail("%s waits on type %s, want %s" % (name, w["type"], pytype))
    if owner is not None:
        want = [thread(owner)["tid"]]
        if w["owner_tids"] != want:
            fail("%s: owners %s, want %s (%s)" % (name, w["owner_tids"], want, owner))
    return t


def expect_python_frame(name, marker, function=None):
    f = innermost_python(thread(name))
    if f["line"] != LINE[marker] or (function and f["function"] != function):
        fail("%s innermost Python frame %s, want line %d" % (name, f, LINE[marker]))


def expect_merged(name):
    """Python frames sit inside the eval loop's native frames."""
    frames = thread(name)["frames"]
    kinds = "".join("p" if f["python"] else "n" for f in frames)
    if "p" not in kinds or kinds[0] != "n":
        fail("%s: frames not merged into a native stack: %s" % (name, kinds))
    first_py = kinds.index("p")
    evals = [i for i, f in enumerate(frames)
             if not f["python"] and f["function"] == "_PyEval_EvalFrameDefault"]
    if evals and evals[0] < first_py:
        fail("%s: an eval frame comes before the innermost Python frame" % name)


def expect_verdict(kind, names=None):
    if kind is None:
        if report["deadlocks"]:
            fail("unexpected deadlock %s" % report["deadlocks"])
        return
    kinds = [d["kind"] for d in report["deadlocks"]]
    if kind not in kinds:
        fail("verdict %s, want %s" % (kinds, kind))
    if names is not None:
        d = report["deadlocks"][kinds.index(kind)]
        want = sorted(thread(n)["tid"] for n in names)
        if sorted(d["tids"]) != want:
            fail("%s threads %s, want %s" % (kind, d["tids"], names))


if not report["python"]:
    fail("no Python version in the report (%s)" % report.get("python_why"))

if scenario == "shapes":
    expect_verdict(None)
    # the holder took the Lock with a with block: named as its holder,
    # yet no owner: any thread may release a plain Lock
    expect_wait("locked-out", "lock", "LOCKED_OUT", owner="holder",
                pytype="_thread.lock")
    if thread("locked-out")["waits_for"]["owned"]:
        fail("a plain Lock counted as its holder's alone")
    expect_wait("rlock-waiter", "rlock", "RLOCK", owner="holder", pytype="_thread.RLock")
    expect_wait("cond-waiter", "condition", "COND", pytype="threading.Condition")
    expect_wait("queue-getter", "queue", "QUEUE", pytype="queue.Queue")
    expect_wait("event-waiter", "event", "EVENT", pytype="threading.Event")
    expect_wait("joiner", "join", "JOIN", owner="holder")
    holder = thread("holder")
    if holder["state"] != "sleeping":
        fail("holder is %s, want sleeping" % holder["state"])
    expect_python_frame("holder", "HOLDER")
    if not any(h["kind"] == "rlock" for h in holder["holds"]):
        fail("holder's RLock is not listed as held: %s" % holder["holds"])
    if thread("reader")["state"] != "io":
        fail("reader is %s, want io" % thread("reader")["state"])
    expect_python_frame("reader", "READ")
    spinner = thread("spinner")
    if report["free_threaded"] and report["gil"] is not False:
        fail("free-threaded, GIL disabled: gil is %s" % report["gil"])
    if spinner["state"] != "running" or spinner["holds_gil"] != report["gil"]:
        fail("spinner: %s, holds_gil %s" % (spinner["state"], spinner["holds_gil"]))
    if innermost_python(spinner)["function"] != "spinner":
        fail("spinner's frame: %s" % innermost_python(spinner))
    for name in threads:
        if name != "spinner" and threads[name]["holds_gil"]:
            fail("%s holds the GIL too" % name)
    expect_merged("holder")
    expect_merged("MainThread")
elif scenario == "lock_cycle":
    # plain Locks held by with blocks: owned, so the snapshot proves the
    # cycle with its owners
    expect_verdict("cycle", ["alpha", "beta"])
    expect_wait("alpha", "lock", "ALPHA", owner="beta", pytype="_thread.lock")
    expect_wait("beta", "lock", "BETA", owner="alpha", pytype="_thread.lock")
    expect_wait("MainThread", "join", "MAIN", owner="alpha")
elif scenario == "lock_cycle_container":
    # the same, read through /proc/PID/root: libpython's functions named
    expect_verdict("cycle", ["alpha", "beta"])
    expect_wait("alpha", "lock", "ALPHA", owner="beta", pytype="_thread.lock")
    for name in ("alpha", "beta", "MainThread"):
        expect_merged(name)
        unnamed = [f for f in thread(name)["frames"]
                   if not f["python"] and "libpython" in (f.get("module") or "")
                   and f["function"] in (None, "??")]
        if unnamed:
            fail("%s: libpython frames without a name: %s" % (name, unnamed))
elif scenario == "rlock_cycle":
    expect_verdict("cycle", ["alpha", "beta"])
    if len(report["deadlocks"]) != 1:
        fail("want exactly the cycle: %s" % report["deadlocks"])
    a = expect_wait("alpha", "rlock", "ALPHA", owner="beta", pytype="_thread.RLock")
    b = expect_wait("beta", "rlock", "BETA", owner="alpha", pytype="_thread.RLock")
    if [h["id"] for h in b["holds"]] != [a["waits_for"]["id"]]:
        fail("beta should hold what alpha waits for: %s" % b["holds"])
    expect_wait("MainThread", "join", "MAIN", owner="alpha")
elif scenario == "gil_cycle":
    expect_verdict("cycle", ["taker", "holder"])
    holder = thread("holder")
    w = holder["waits_for"]
    if w["kind"] != "mutex" or w["owner_tids"] != [thread("taker")["tid"]]:
        fail("holder should wait for the mutex taker holds: %s" % w)
    if not holder["holds_gil"]:
        fail("holder should hold the GIL")
    expect_python_frame("holder", "HOLDER")
    w = thread("taker")["waits_for"]
    if w["kind"] != "gil" or w["owner_tids"] != [holder["tid"]]:
        fail("taker should wait for the GIL holder holds: %s" % w)
elif scenario == "gil_holder":
    expect_verdict(None)
    sleeper = thread("sleeper")
    if sleeper["state"] != "sleeping" or not sleeper["holds_gil"]:
        fail("sleeper: %s, holds_gil %s" % (sleeper["state"], sleeper["holds_gil"]))
    expect_python_frame("sleeper", "SLEEP")
    w = thread("spinner")["waits_for"]
    if not w or w["kind"] != "gil" or w["owner_tids"] != [sleeper["tid"]]:
        fail("spinner should wait for the GIL held by sleeper: %s" % w)
elif scenario == "all_blocked":
    expect_verdict("all-blocked")
    expect_wait("cond-waiter", "condition", "COND")
    expect_wait("queue-getter", "queue", "QUEUE")
    expect_wait("event-waiter", "event", "EVENT")
    expect_wait("MainThread", "join", "MAIN", owner="cond-waiter")
elif scenario == "deep":
    deep = thread("deep")
    frames = python_frames(deep)
    if len(frames) < 9000 or not deep["frames_incomplete_why"]:
        fail("deep: %d Python frames, incomplete: %s" % (len(frames), deep["frames_incomplete_why"]))
    mine = [f for f in frames if f["file"].endswith("deep.py")]
    if mine[0]["line"] != LINE["BOTTOM"] or mine[0]["function"] != "down":
        fail("deep: innermost frame of the program %s" % mine[0])
    if any(f["line"] != mine[1]["line"] for f in mine[1:1000]):
        fail("deep: the recursion's frames are not all at the recursive call")
else:
    fail("unknown scenario")
print("%s ok: %d threads, deadlocks %s" % (scenario, len(threads),
      [d["kind"] for d in report["deadlocks"]]))
