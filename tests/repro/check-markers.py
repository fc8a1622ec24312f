#!/usr/bin/env python3
"""Check the WAIT markers of the Python deadlock programs against where their
threads really block.

Each deadlock program of MANIFEST is run (in its own session) through a
wrapper that registers faulthandler on SIGUSR2 for all threads and then runs
the program with runpy; after 1.5 s every process of the session gets
SIGUSR2 and dumps its threads' Python stacks (faulthandler needs no GIL, so
this works in GIL deadlocks too).  For every thread, the innermost frame in a
tests/repro file must be on a line carrying a "# WAIT:" marker, and every
WAIT marker of the program must be hit by some thread (in some process).
Threads with no frame in a tests/repro file (e.g. multiprocessing's feeder
thread) are only listed.

usage: check-markers.py [-p PYTHON]... [NAME...]
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
HERE = os.path.dirname(os.path.abspath(__file__))
def interpreters(*args):
    return subprocess.run(
        ["sh", os.path.join(HERE, "..", "..", "scripts", "pythons.sh")] + list(args),
        stdout=subprocess.PIPE, text=True, check=True).stdout.split()


PYTHONS = interpreters()
GIL_PYTHONS = interpreters("--gil")  # for MANIFEST's "gil" programs

WRAPPER = r"""
import faulthandler, runpy, signal, sys
dump = open(sys.argv[1], "a")
faulthandler.register(signal.SIGUSR2, file=dump, all_threads=True)
path = sys.argv[2]
sys.argv = sys.argv[2:]
sys.path[0] = %r
runpy.run_path(path, run_name="__main__")
""" % HERE

MARK = re.compile(r"#\s*WAIT:(\w+)")


def markers():
    """{(file, line): label} for every WAIT marker in tests/repro."""
    found = {}
    for name in os.listdir(HERE):
        if not name.endswith(".py"):
            continue
        path = os.path.join(HERE, name)
        with open(path) as f:
            for i, text in enumerate(f, 1):
                for label in MARK.findall(text):
                    found[(path, i)] = label
    return found


def session_pids(sid):
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:
            pids.append(int(entry))
    return sorted(pids)


def check(py, prog, marks):
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "dump")
        proc = subprocess.Popen(
            [py, "-c", WRAPPER, dump, os.path.join(HERE, prog)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=HERE)
        time.sleep(1.5)
        pids = session_pids(proc.pid)
        for pid in pids:
            with open(dump, "a") as f:
                f.write("@@ process %d\n" % pid)
            os.kill(pid, signal.SIGUSR2)
            time.sleep(0.3)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        with open(dump) as f:
            text = f.read()
    problems, hit, threads = [], set(), []
    for block in re.split(r"\n(?=Thread 0x|Current thread 0x|@@ )", text):
        if block.startswith("@@"):
            continue
        frames = re.findall(r'File "([^"]+)", line (\d+) in (\S+)', block)
        mine = [(f, int(n), fn) for f, n, fn in frames
                if os.path.isabs(f) and os.path.dirname(f) == HERE]
        if not frames:
            continue
        if not mine:
            threads.append("(no repro frame: %s:%s)" % frames[0][::2])
            continue
        where = mine[0][:2]
        label = marks.get(where)
        threads.append("%s:%d%s" % (os.path.basename(where[0]), where[1],
                                    " WAIT:" + label if label else ""))
        if label is None:
            problems.append("thread blocked at unmarked %s:%d (%s)" % (
                os.path.basename(where[0]), where[1], mine[0][2]))
        else:
            hit.add(where)
    for (path, line), label in marks.items():
        if (path, line) in hit:
            continue
        base = os.path.basename(path)
        helper = prog == "import_lock.py" and base == "repro_import_helper.py"
        if base == prog or helper:
            problems.append("marker WAIT:%s at %s:%d not reached" %
                            (label, base, line))
    if not pids:
        problems.append("program exited")
    return problems, threads


def main():
    args = sys.argv[1:]
    pythons = []
    while args[:1] == ["-p"]:
        pythons.append(args[1])
        args = args[2:]
    pythons = pythons or PYTHONS
    progs = []
    with open(os.path.join(HERE, "MANIFEST")) as f:
        for line in f:
            name, kind, spec = line.split("\t")[:3]
            if kind == "deadlock" and name.endswith(".py"):
                if not args or name in args:
                    progs.append((name, spec))
    marks = markers()
    passed = failed = 0
    for prog, spec in progs:
        for py in pythons:
            if spec == "gil" and py not in GIL_PYTHONS:
                continue
            problems, threads = check(py, prog, marks)
            ok = not problems
            passed += ok
            failed += not ok
            print("%-34s %-40s %s  %s" % (prog, py, "PASS" if ok else "FAIL",
                                          " | ".join(threads)))
            for p in problems:
                print("    " + p)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
