"""Checks py_dump output against what py_shapes.py says it set up.

Usage: check_dump.py CASE EXPECT_JSON DUMP_TXT SHAPES_PY
Prints nothing and exits 0 when right; else one line per problem, 1.
"""
import json
import re
import sys

case, expect_path, dump_path, shapes = sys.argv[1:5]
expect = json.load(open(expect_path))
marks = {}
for n, text in enumerate(open(shapes), 1):
    m = re.search(r"# @([\w-]+)", text)
    if m:
        marks[m.group(1)] = n
problems = []


def bad(msg):
    problems.append(msg)


# parse the dump
threads, gil, version, signals, modowned = [], None, None, None, []
for line in open(dump_path):
    line = line.rstrip("\n")
    if line.startswith("python "):
        version = line.split()[1]
    elif line.startswith("gil "):
        gil = dict(kv.split("=") for kv in line.split()[1:])
    elif line.startswith("thread "):
        m = re.match(r"thread tid=(\d+) ident=(\S+) tstate=(\S+) name=(.*) "
                     r"gil=(\d) frames=(\d+)(?: truncated=(.*))?$", line)
        threads.append({"tid": int(m.group(1)), "ident": int(m.group(2), 16),
                        "tstate": m.group(3), "name": m.group(4),
                        "gil": m.group(5) == "1", "n": int(m.group(6)),
                        "truncated": m.group(7), "frames": [], "lock": None,
                        "join": None, "held": [], "modwait": None})
    elif line.startswith("frame "):
        m = re.match(r"frame (.*):(\d+) (\S+)( entry)?$", line)
        threads[-1]["frames"].append(
            {"file": m.group(1), "line": int(m.group(2)),
             "func": m.group(3), "entry": bool(m.group(4))})
    elif line.startswith("lock "):
        f = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
        threads[-1]["lock"] = None if " none " in line else f
    elif line.startswith("held "):
        if line.endswith(" unreadable"):
            bad("%s: with blocks unreadable" % threads[-1]["name"])
        else:
            threads[-1]["held"].append(
                dict(kv.split("=", 1) for kv in line.split()[1:]))
    elif line.startswith("modwait "):
        threads[-1]["modwait"] = dict(kv.split("=", 1)
                                      for kv in line.split()[1:])
    elif line.startswith("modowned "):
        modowned.append(dict(kv.split("=", 1) for kv in line.split()[1:]))
    elif line.startswith("modules unknown"):
        bad(line)
    elif line.startswith("signals "):
        signals = line.split()[1]
    elif line.startswith("join "):
        m = re.match(r"join tid=(\d+) target=(\S+)$", line)
        threads[-1]["join"] = int(m.group(2), 16)
    elif line.startswith(("unsupported", "error")):
        bad(line)

if version != expect["version"]:
    bad("version %s, expected %s" % (version, expect["version"]))
by_name = {t["name"]: t for t in threads}
minor = tuple(int(x) for x in expect["version"].split(".")[:2])


def thread(name):
    t = by_name.get(name)
    if not t:
        bad("no thread named %s (got %s)" % (name, sorted(by_name)))
    return t


def frame_at(t, i, func, mark=None, file_end=None):
    fr = t["frames"]
    if len(fr) <= i:
        bad("%s: no frame %d" % (t["name"], i))
        return
    f = fr[i]
    if f["func"] != func:
        bad("%s: frame %d is %s, expected %s" % (t["name"], i, f["func"], func))
    if mark and (f["line"] != marks[mark] or not f["file"].endswith("py_shapes.py")):
        bad("%s: frame %d at %s:%d, expected line %d" %
            (t["name"], i, f["file"], f["line"], marks[mark]))
    if file_end and not f["file"].endswith(file_end):
        bad("%s: frame %d in %s, expected %s" % (t["name"], i, f["file"], file_end))


def lock_is(t, typ, **kw):
    lk = t["lock"]
    if not lk or lk.get("type") != typ:
        bad("%s: lock %s, expected %s" % (t["name"], lk, typ))
        return None
    for k, v in kw.items():
        if int(lk[k], 0) != v:
            bad("%s: lock %s=%s, expected %#x" % (t["name"], k, lk[k], v))
    return lk


# identities: names, TIDs, idents of every thread we started
want = dict(expect["threads"])
want["MainThread"] = expect["main"]
for name, ids in want.items():
    t = thread(name)
    if t and (t["tid"] != ids["tid"] or t["ident"] != ids["ident"]):
        bad("%s: tid/ident %d/%#x, expected %d/%#x" %
            (name, t["tid"], t["ident"], ids["tid"], ids["ident"]))
# entry frames and the GIL, in every case
for t in threads:
    fr = t["frames"]
    if fr and not fr[-1]["entry"] and not t["truncated"]:
        bad("%s: outermost frame not marked entry" % t["name"])
    if minor <= (3, 10) and not all(f["entry"] for f in fr):
        bad("%s: <= 3.10 frame not marked entry" % t["name"])
# py_join_target: only the joiners join, each the thread it waits for
joins = {"locks": {"joiner": "worker-1"},
         "join": {"joiner": "sleeper-target", "MainThread": "joiner"}}
for t in threads:
    target = joins.get(case, {}).get(t["name"])
    if target and target in want and t["join"] != want[target]["ident"]:
        bad("%s: joins %s, expected %s %#x" %
            (t["name"], t["join"] and "%#x" % t["join"], target,
             want[target]["ident"]))
    elif not target and t["join"] is not None:
        bad("%s: joins %#x, expected nothing" % (t["name"], t["join"]))
# py_signal_handlers: the signals py_shapes.py gave a Python handler
if not signals or not signals.startswith("custom=") or \
        int(signals[7:], 16) != expect["signals"]:
    bad("signals %s, expected custom=%#x" % (signals, expect["signals"]))
# py_with_held: exactly the locks py_shapes.py holds in with blocks
objs = expect["objects"]
for t in threads:
    want_held = expect["held"].get(t["name"], [])
    got = [(int(h["object"], 16), int(h["via"], 16) or None,
            int(h["line"]), h["from"], t["frames"][int(h["frame"])]["func"]
            if int(h["frame"]) < len(t["frames"]) else "?")
           for h in t["held"]]
    wanted = [(objs[lk], objs[via] if via else None, marks[mark], "with",
               func) for via, lk, mark, func in want_held]
    if got != wanted:
        bad("%s: holds %s, expected %s" % (t["name"], got, wanted))
    for h in t["held"]:
        shared = h["type"] == "_multiprocessing.SemLock"
        if (int(h["native"], 16) == 0) != h["type"].endswith("Semaphore") or \
                (h["shared"] == "1") != shared:
            bad("%s: held %s" % (t["name"], h))
holders = [t["name"] for t in threads if t["gil"]]
if gil["locked"] == "1" and len(holders) != 1:
    bad("GIL locked by %s, holders %s" % (gil["holder"], holders))
if gil["locked"] == "0" and holders:
    bad("GIL free but held by %s" % holders)

if case == "locks":
    main = thread("MainThread")
    if main:
        frame_at(main, len(main["frames"]) - 2, "main", "main-wait")
        frame_at(main, len(main["frames"]) - 1, "<module>")
    for name in ("worker-2", "worker-3"):
        t = thread(name)
        if t:
            frame_at(t, 0, "h", "wait-lock")
            frame_at(t, 1, "g")
            frame_at(t, 2, "f")
            if minor >= (3, 11) and t["frames"][0]["entry"]:
                bad("%s: h marked entry" % name)
            lock_is(t, "_thread.lock")
    w2, w3 = by_name.get("worker-2"), by_name.get("worker-3")
    if w2 and w3 and w2["lock"] and w3["lock"] and \
            w2["lock"]["object"] != w3["lock"]["object"]:
        bad("worker-2 and worker-3 wait on different locks")
    t = thread("worker-1")
    if t:
        frame_at(t, 2, "hold_lock", "hold-lock")
    t = thread("rholder")
    if t:
        frame_at(t, 2, "hold_rlock", "hold-rlock")
    t = thread("rwaiter")
    if t:
        frame_at(t, 0, "rwait", "wait-rlock")
        lock_is(t, "_thread.RLock", owner=want["rholder"]["ident"], count=2)
    t = thread("cwaiter")
    if t:
        frame_at(t, 0, "wait", file_end="threading.py")
        frame_at(t, 1, "cwait", "wait-cond")
        lock_is(t, "_thread.lock")
    t = thread("qwaiter")
    if t:
        frame_at(t, 0, "wait", file_end="threading.py")
        frame_at(t, 1, "get", file_end="queue.py")
        frame_at(t, 2, "qwait", "wait-queue")
        lock_is(t, "_thread.lock")
    t = thread("joiner")
    if t:
        i = [f["func"] for f in t["frames"]].index("jwait") \
            if "jwait" in [f["func"] for f in t["frames"]] else 0
        frame_at(t, i, "jwait", "wait-join")
        frame_at(t, i - 1, "join", file_end="threading.py")
        if minor <= (3, 12):	# 3.13 joins a thread handle, not a lock
            lock_is(t, "_thread.lock")
    t = thread("sleeper")
    if t:
        frame_at(t, 0, "swait", "wait-sleep")
elif case == "join":
    main = thread("MainThread")
    if main:
        i = len(main["frames"]) - 2
        frame_at(main, i, "main", "main-join")
        frame_at(main, i - 1, "join", file_end="threading.py")
    t = thread("joiner")
    if t:
        frame_at(t, 0, "join" if minor >= (3, 13) else "_wait_for_tstate_lock",
                 file_end="threading.py")
        frame_at(t, len(t["frames"]) - 4, "jwait", "wait-join")
    t = thread("sleeper-target")
    if t:
        frame_at(t, len(t["frames"]) - 4, "block", "wait-forever")
elif case == "busy":
    t = thread("spinner")
    if t:
        if t["frames"] and t["frames"][0]["line"] == marks["spin-loop"]:
            frame_at(t, 0, "spin", "spin-loop")   # at the loop's jump
        else:
            frame_at(t, 0, "spin", "spin")
        if gil["disabled"] == "1":
            if t["gil"] or gil["free_threaded"] != "1":
                bad("no GIL, yet: spinner gil %s, gil %s" % (t["gil"], gil))
        elif not t["gil"]:
            bad("spinner does not hold the GIL (gil %s)" % gil)
elif case == "deep":
    t = thread("deep")
    if t:
        n = sum(f["func"] == "recurse" for f in t["frames"])
        if n != 5000 or t["truncated"]:
            bad("deep: %d recurse frames, truncated %s" % (n, t["truncated"]))
        i = [f["func"] for f in t["frames"]].index("recurse")
        frame_at(t, i, "recurse", "deep")
    t = thread("deeper")
    if t and (t["n"] != 10000 or not t["truncated"]):
        bad("deeper: %d frames, truncated %s" % (t["n"], t["truncated"]))
elif case == "many":
    objs = set()
    for i in range(1, 100):
        t = thread("worker-%d" % i)
        if t:
            frame_at(t, 0, "nest1", "many")
            frame_at(t, 2, "nest3")
            lk = lock_is(t, "_thread.lock")
            if lk:
                objs.add(lk["object"])
    if len(objs) != 1:
        bad("many: waiters on %d different locks" % len(objs))

elif case == "with":
    t = thread("w-stale")
    if t:
        frame_at(t, 0, "with_stale", "with-stale-wait")
        lock_is(t, "_thread.lock", object=objs["lk_stale_wait"])
    t = thread("w-enter")
    if t:
        frame_at(t, 0, "with_enter", "with-enter-wait")
        lock_is(t, "_thread.lock", object=objs["lk_busy"])
    names = {h["type"] for t in threads for h in t["held"]}
    for typ in ("_thread.lock", "_thread.RLock", "Semaphore",
                "BoundedSemaphore", "_multiprocessing.SemLock"):
        if typ not in names:
            bad("with: no %s held" % typ)
elif case == "objects":
    def ident(name):
        return want[name]["ident"]

    def waits(name, typ, obj, owner, found="frame", known=None, **kw):
        t = thread(name)
        if not t:
            return
        lk = lock_is(t, typ, object=objs[obj],
                     owner=ident(owner) if owner else 0, **kw)
        known = bool(owner) if known is None else known
        if lk and (lk["found"] != found or lk["known"] != str(int(known))):
            bad("%s: lock %s, expected found=%s known=%d" %
                (name, lk, found, known))
        return lk

    # a multiprocessing.Lock: last taken by mp-hold, but anyone may release
    lk = waits("mp-wait", "_multiprocessing.SemLock", "mp_lock._semlock",
               "mp-hold", known=False, count=1, maxvalue=1, kind=1)
    if lk and lk["shared"] != "1":
        bad("mp-wait: SemLock not process-shared: %s" % lk)
    # a multiprocessing.RLock: owned by mprl-hold
    waits("mprl-wait", "_multiprocessing.SemLock", "mp_rlock._semlock",
          "mprl-hold", count=1, maxvalue=1, kind=0)
    lk = waits("sq-wait", "_queue.SimpleQueue", "sq", None)
    if lk and lk["signal"] != "1":
        bad("sq-wait: SimpleQueue not a signal: %s" % lk)
    waits("buf-wait", "_io.BufferedWriter", "slow", "buf-hold")
    waits("read-wait", "_io.BufferedReader", "rpipe", "read-hold")
    waits("print-wait", "_io.BufferedWriter", "stdout.buffer", "print-hold",
          found="stdout")
    t = thread("import-wait")
    if t:
        w = t["modwait"]
        if not w or w["module"] != "pd_slow_module" or \
                int(w["owner"], 16) != ident("import-hold"):
            bad("import-wait: waits for module lock %s, expected "
                "pd_slow_module of %#x" % (w, ident("import-hold")))
    own = [(int(o["owner"], 16), o["module"], o["count"]) for o in modowned]
    if own != [(ident("import-hold"), "pd_slow_module", "1")]:
        bad("module locks owned %s, expected pd_slow_module by %#x" %
            (own, ident("import-hold")))
elif modowned:
    bad("module locks owned: %s" % modowned)
for t in threads:
    if t["name"] != "import-wait" and t["modwait"]:
        bad("%s: waits for module lock %s" % (t["name"], t["modwait"]))

for p in problems[:20]:
    print(p)
sys.exit(1 if problems else 0)
