"""Compare one `python -m test` run made plainly with the same run made under
`pydeadlock run --`, per test case.  Used by suite.sh; runs on any Python 3.

    compare.py PLAIN_DIR RUN_DIR OUT_PREFIX

Each DIR holds what suite.sh left there: log (stdout and stderr of
`python -m test -v --junit-xml=junit.xml ...`), junit.xml, rc, seconds.

A test case's outcome comes from the JUnit file (pass, skip, fail, error,
xfail, xpass) and from the unittest failure headers in the log
("FAIL: test_x (test.mod.Class.test_x) [sub]" or "ERROR: setUpClass
(test.mod.Class)"), which also name what JUnit cannot: a failing subtest and
a failing setUpClass/setUpModule.  A test file's outcome comes from
regrtest's progress line ("[1/1] test_os failed (env changed)").

Writes OUT_PREFIX.diff (one line per difference, with the detail needed to
reproduce it) and OUT_PREFIX.row (tab-separated: cases, plain seconds, run
seconds, differences, short note), and prints the differences.
"""

import os
import re
import sys
import xml.etree.ElementTree as ET

OUTCOME_ORDER = ("pass", "skip", "xfail", "xpass", "fail", "error")

HEADER = re.compile(r"^(FAIL|ERROR|UNEXPECTED SUCCESS): (\S+) \(([\w.]+)\)(.*)$")
# "0:00:07 load avg: 0.19 [1/1] test_queue passed", "[ 3/10/1] test_x failed"
PROGRESS = re.compile(r"\[\s*\d+/\d+(?:/\d+)?\] (test[\w.]*) (.+)$")
# "test_basic (test.test_queue.CLifoQueueTest.test_basic) ... " (3.11+) or
# "test_basic (test.test_queue.CLifoQueueTest) ... " (3.9, 3.10)
STARTED = re.compile(r"^(test\w*|runTest) \(([\w.]+)\)(?:$|\s)")


def read(path, default=""):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


def case_id(name, where):
    """unittest's description 'name (where)' as a test id."""
    if where.endswith("." + name):
        return where
    return where + "." + name


def junit_cases(path, cases, notes):
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        notes.append("no JUnit file")
        return
    except ET.ParseError as e:
        notes.append("JUnit file unreadable: %s" % e)
        return
    for e in root.iter("testcase"):
        name = e.get("name")
        if not name:
            continue	# a test whose subtest failed: the log's header names it
        if e.find("error") is not None:
            out = "error"
        elif e.find("failure") is not None:
            out = "fail"
        elif e.find("skipped") is not None:
            out = "skip"
        elif e.find("output") is not None:
            out = "xfail"
        elif e.find("outcome") is not None:
            out = "xpass"
        else:
            out = "pass"
        cases[name] = out


def file_result(text):
    """regrtest's word for a test file: passed, failed, env changed, ..."""
    t = re.sub(r" \(\d[^)]*(sec|min|ms)\)$", "", text.strip())
    t = re.sub(r" -- .*$", "", t)
    for word in ("env changed", "timed out", "crashed", "resource denied",
                 "interrupted", "uncaught exception", "run no tests",
                 "skipped", "failed", "passed"):
        if word in t:
            return word + (" (%s)" % t.split("(", 1)[1].rstrip(")")
                           if word in ("crashed", "timed out") and "(" in t
                           else "")
    return t


def parse(d):
    r = {"cases": {}, "files": {}, "notes": [], "deadlock": [],
         "last_started": {}, "rc": read(os.path.join(d, "rc"), "?").strip(),
         "seconds": read(os.path.join(d, "seconds"), "?").strip()}
    junit_cases(os.path.join(d, "junit.xml"), r["cases"], r["notes"])
    current = None
    for line in read(os.path.join(d, "log")).splitlines():
        s = line.strip()
        if s.startswith("pydeadlock:"):
            r["deadlock"].append(s)
        m = HEADER.match(line)
        if m:
            kind, name, where, rest = m.groups()
            cid = case_id(name, where)
            out = {"FAIL": "fail", "ERROR": "error",
                   "UNEXPECTED SUCCESS": "xpass"}[kind]
            old = r["cases"].get(cid, "pass")
            if OUTCOME_ORDER.index(out) > OUTCOME_ORDER.index(old):
                r["cases"][cid] = out
            continue
        m = PROGRESS.search(line)
        if m:
            r["files"][m.group(1)] = file_result(m.group(2))
            continue
        m = STARTED.match(line)
        if m:
            current = case_id(*m.groups())
            mod = current.split(".")[1] if current.count(".") > 1 else current
            r["last_started"][mod] = current
    return r


def main():
    plain_dir, run_dir, out = sys.argv[1:4]
    p, u = parse(plain_dir), parse(run_dir)
    diffs = []
    if u["rc"] == "86":
        diffs.append("exit status 86 under run (plain: %s)" % p["rc"])
    elif u["rc"] in ("124", "137") and p["rc"] not in ("124", "137"):
        diffs.append("under run: killed at the outer time limit, a hang "
                     "(exit status %s; plain: %s in %ss)"
                     % (u["rc"], p["rc"], p["seconds"]))
    elif u["rc"] != p["rc"]:
        diffs.append("exit status %s under run, %s plainly" % (u["rc"], p["rc"]))
    plain_lines = set(p["deadlock"])
    for line in u["deadlock"]:
        if line not in plain_lines:
            diffs.append("printed under run: %s" % line)
    for f in sorted(set(p["files"]) | set(u["files"])):
        a, b = p["files"].get(f, "absent"), u["files"].get(f, "absent")
        if a != b:
            extra = ""
            last = u["last_started"].get(f.split(".")[0])
            if b.startswith(("crashed", "timed out", "absent")) and last:
                extra = "; last case started under run: %s" % last
            diffs.append("test file %s: %s plainly, %s under run%s" % (f, a, b, extra))
    absent = []
    for cid in sorted(set(p["cases"]) | set(u["cases"])):
        a, b = p["cases"].get(cid, "absent"), u["cases"].get(cid, "absent")
        if a == b:
            continue
        if b == "absent":
            absent.append(cid)
            continue
        diffs.append("case %s: %s plainly, %s under run" % (cid, a, b))
    if absent:
        diffs.append("%d cases ran plainly but not under run, e.g. %s"
                     % (len(absent), ", ".join(absent[:3])))
    for n in u["notes"]:
        if n not in p["notes"]:
            diffs.append("under run: %s" % n)
    with open(out + ".diff", "w") as f:
        for d in diffs:
            f.write(d + "\n")
        for cid in absent:
            f.write("absent under run: %s\n" % cid)
    note = "; ".join(p["notes"]) if p["notes"] else ""
    with open(out + ".row", "w") as f:
        f.write("%d\t%s\t%s\t%d\t%s\n" % (len(p["cases"]), p["seconds"],
                                          u["seconds"], len(diffs), note))
    for d in diffs:
        print("  " + d)


if __name__ == "__main__":
    main()
