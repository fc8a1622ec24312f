"""pytest --deadlock: the session under ``pydeadlock run --on-deadlock=break``.

A test that deadlocks fails with :class:`pydeadlock.DeadlockError`, raised
at the line where the breaking wait was (the test's own thread when it is
the one that closed the cycle), with pydeadlock's account of the deadlock
in its failure (and so in JUnit XML), and the session goes on with the
next test.  A deadlock that cannot be broken (a wait for a child process
or a pipe, a C condition variable) fails the test that was running, and
ends the session with its summary (JUnit XML written) and status 86,
instead of a hang: ``pydeadlock run --ending-fd`` tells a listener thread
of this plugin before it ends the program.  (A deadlock that holds the
GIL leaves no Python thread able to do that: the session is then ended
without its summary.)  pytest-xdist workers are processes below the
session: they run under the same supervisor.

Loaded by its entry point when pydeadlock is pip-installed; otherwise
``pytest -p pydeadlock.pytest_plugin --deadlock``.
"""
import json
import os
import shutil
import stat
import sys
import tempfile
import threading

import pytest

from pydeadlock import DeadlockError

# Where the supervisor writes its JSON reports for this session (not a
# PYDEADLOCK_ name: the shim takes those out of the program's environment).
REPORT_ENV = "PYTEST_DEADLOCK_REPORT"
# "FD:INODE": the read end of the pipe run tells the session's end on
ENDING_ENV = "PYTEST_DEADLOCK_ENDING"
SHIM = "libpydeadlock.so"
EXIT_DEADLOCK = 86


def pytest_addoption(parser):
    group = parser.getgroup("pydeadlock")
    group.addoption("--deadlock", action="store_true",
                    help="run the session under pydeadlock run --on-deadlock=break: "
                    "a deadlocked test fails with DeadlockError instead of hanging")
    group.addoption("--deadlock-potential-after", type=float, default=10.0,
                    metavar="SECONDS",
                    help="a potential deadlock (one pydeadlock cannot prove: another "
                    "thread or process might still end it, as an xdist worker's "
                    "reader thread might) that stays unchanged this long is "
                    "treated as one (default 10; 0: never)")


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


def report_file():
    """Where the supervisor writes its JSON report and the session reads it.

    An anonymous file of this process, which becomes the supervisor's
    (execv keeps the PID and the descriptor): every process of the session
    reads it through /proc, and it goes with the supervisor, leaving
    nothing on disk.  Without memfd_create, a temporary file, left behind.
    """
    try:
        fd = os.memfd_create("pytest-deadlock-report")
        os.set_inheritable(fd, True)
        return "/proc/%d/fd/%d" % (os.getpid(), fd)
    except (AttributeError, OSError):
        fd, report = tempfile.mkstemp(prefix="pytest-deadlock-", suffix=".json")
        os.close(fd)
        os.unlink(report)       # present only once something was found
        return report


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    if not config.getoption("deadlock") or under_shim():
        return None
    tool = find_tool()
    if not tool:
        raise pytest.UsageError("--deadlock: no pydeadlock command beside %s or on PATH"
                                % sys.executable)
    os.environ[REPORT_ENV] = report = report_file()
    read_end, write_end = os.pipe()
    os.set_inheritable(read_end, True)
    os.set_inheritable(write_end, True)
    os.environ[ENDING_ENV] = "%d:%d" % (read_end, os.fstat(read_end).st_ino)
    args = [tool, "run", "--on-deadlock=break", "--json-report=" + report,
            "--ending-fd=%d" % write_end]
    potential_after = config.getoption("deadlock_potential_after")
    if potential_after > 0:
        args += ["--act-on-potential", "--potential-after=%g" % potential_after]
    args += ["--", sys.executable, "-m", "pytest"] + list(config.invocation_params.args)
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
    certain = report.get("deadlocks", [])
    for d in certain or report.get("potential", []):
        if d.get("certain") is False:
            lines.append("potential %s of %d threads, unchanged for --deadlock-potential-after "
                         "(unless: %s):" % (d["kind"], len(d["tids"]), d.get("why")))
        else:
            lines.append("%s of %d threads:" % (d["kind"], len(d["tids"])))
        for tid in d["tids"]:
            t = threads.get(tid, {})
            w = t.get("waits_for") or {}
            site = w.get("site") or {}
            owners = w.get("owner_tids") or []
            what = w.get("id")
            if w.get("kind") in ("pipe", "child") and what:
                what = int(what, 16)    # an inode, a process ID
            lines.append("  thread %s %r waits for %s %s%s at %s:%s%s" % (
                tid, t.get("name"), w.get("kind"), what,
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


class Session:
    """What the listener needs: the session and the test running now."""
    config = None
    session = None
    item = None


def ending_pipe():
    """The read end run tells the end on, if this process is the session's:
    the variable is taken out (xdist workers, started later, do not see it)
    and the descriptor's inode checked."""
    value = os.environ.pop(ENDING_ENV, "")
    try:
        fd, inode = (int(v) for v in value.split(":"))
        st = os.fstat(fd)
    except (ValueError, OSError):
        return None
    if not stat.S_ISFIFO(st.st_mode) or st.st_ino != inode:
        return None
    return fd


def pytest_configure(config):
    if not config.getoption("deadlock", False) or not under_shim():
        return
    fd = ending_pipe()
    if fd is None:
        return
    Session.config = config
    # run's own listener: pydeadlock leaves a thread that reads this
    # pipe out of the program's verdict
    threading.Thread(target=listen, args=(fd,), name="pydeadlock-listener",
                     daemon=True).start()


def pytest_sessionstart(session):
    Session.session = session


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    Session.item = item
    yield
    Session.item = None


def listen(fd):
    """Wait for run's word that it ends the program; then fail the test
    that deadlocked, finish the session (summary, JUnit XML) and exit 86
    before run's grace runs out."""
    try:
        why = os.read(fd, 4096).decode(errors="replace").strip()
    except OSError:
        return
    if not why:
        return      # run is gone: nothing to say
    try:
        finish(why)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_DEADLOCK)


def finish(why):
    """Say it as pytest would have: the test's failure, then the session's
    end (with the exit status pytest summarises a failed session with)."""
    config = Session.config
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        # the test's output is being captured: let ours through
        capman.suspend_global_capture(in_=True)
        try:
            capman.suspend_fixture()
        except Exception:
            pass
    report_ending(why)


def report_ending(why):
    from _pytest.reports import TestReport

    config, session, item = Session.config, Session.session, Session.item
    text = "pydeadlock: %s\n(the session ends here, status %d)" % (why, EXIT_DEADLOCK)
    report_path = os.environ.get(REPORT_ENV)
    detail = describe(report_path) if report_path else None
    if detail:
        text += "\n" + detail
    if item is not None:
        for when, outcome, longrepr in (("call", "failed", text),
                                        ("teardown", "passed", None)):
            rep = TestReport(item.nodeid, item.location, {}, outcome, longrepr, when)
            item.ihook.pytest_runtest_logreport(report=rep)
    else:
        sys.stderr.write(text + "\n")
    if session is not None:
        session.shouldstop = "pydeadlock: a deadlock that cannot be broken"
        config.hook.pytest_sessionfinish(session=session,
                                         exitstatus=pytest.ExitCode.TESTS_FAILED)
