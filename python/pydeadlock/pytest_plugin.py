"""pytest --deadlock: the session under ``pydeadlock run --on-deadlock=break``.

A test that deadlocks fails with :class:`pydeadlock.DeadlockError`, raised
at the line where the breaking wait was (the test's own thread when it is
the one that closed the cycle), with pydeadlock's account of the deadlock
in its failure (and so in JUnit XML), and the session goes on with the
next test.  A deadlock that cannot be broken ends the session with status
86 and pydeadlock's report, instead of a hang.  pytest-xdist workers are
processes below the session: they run under the same supervisor.

Loaded by its entry point when pydeadlock is pip-installed; otherwise
``pytest -p pydeadlock.pytest_plugin --deadlock``.
"""
import json
import os
import shutil
import sys
import tempfile

import pytest

from pydeadlock import DeadlockError

# Where the supervisor writes its JSON reports for this session (not a
# PYDEADLOCK_ name: the shim takes those out of the program's environment).
REPORT_ENV = "PYTEST_DEADLOCK_REPORT"
SHIM = "libpydeadlock.so"


def pytest_addoption(parser):
    group = parser.getgroup("pydeadlock")
    group.addoption("--deadlock", action="store_true",
                    help="run the session under pydeadlock run --on-deadlock=break: "
                    "a deadlocked test fails with DeadlockError instead of hanging")


def under_shim():
    """Is this process already under pydeadlock run (the shim mapped)?"""
    try:
        with open("/proc/self/maps") as f:
            return any(line.rstrip().endswith("/" + SHIM) for line in f)
    except OSError:
        return False


def find_tool():
    """The pydeadlock command: beside this interpreter (a venv), or on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "pydeadlock")
    if os.access(here, os.X_OK):
        return here
    return shutil.which("pydeadlock")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    if not config.getoption("deadlock") or under_shim():
        return None
    tool = find_tool()
    if not tool:
        raise pytest.UsageError("--deadlock: no pydeadlock command beside %s or on PATH"
                                % sys.executable)
    fd, report = tempfile.mkstemp(prefix="pytest-deadlock-", suffix=".json")
    os.close(fd)
    os.unlink(report)       # present only once something was found
    os.environ[REPORT_ENV] = report
    args = [tool, "run", "--on-deadlock=break", "--json-report=" + report, "--",
            sys.executable, "-m", "pytest"] + list(config.invocation_params.args)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(tool, args)    # the same session, now under the supervisor
    return None


def describe(report_path):
    """pydeadlock's last report, as lines: each deadlocked thread's wait."""
    try:
        with open(report_path) as f:
            report = json.load(f)
    except (OSError, ValueError):
        return None
    threads = {t["tid"]: t for t in report.get("threads", [])}
    lines = []
    for d in report.get("deadlocks", []):
        lines.append("%s of %d threads:" % (d["kind"], len(d["tids"])))
        for tid in d["tids"]:
            t = threads.get(tid, {})
            w = t.get("waits_for") or {}
            site = w.get("site") or {}
            owners = w.get("owner_tids") or []
            lines.append("  thread %s %r waits for %s %s%s at %s:%s%s" % (
                tid, t.get("name"), w.get("kind"), w.get("id"),
                " (%s)" % w["type"] if w.get("type") else "",
                site.get("file"), site.get("line"),
                ", held by thread %s" % ", ".join(map(str, owners)) if owners else ""))
            for h in t.get("holds") or []:
                hs = h.get("site") or {}
                lines.append("      holds %s %s, taken at %s:%s" % (
                    h.get("kind"), h.get("id"), hs.get("file"), hs.get("line")))
    return "\n".join(lines) or None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    report_path = os.environ.get(REPORT_ENV)
    if (call.excinfo is None or not call.excinfo.errisinstance(DeadlockError)
            or not report_path):
        return
    text = describe(report_path)
    if text and hasattr(rep.longrepr, "addsection"):
        rep.longrepr.addsection("pydeadlock", text)
