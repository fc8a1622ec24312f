"""pytest --deadlock, tested with pytest's own pytester (run in a venv
where pydeadlock is pip-installed: tests/run/pip-install.test)."""
import os

import pytest

pytest_plugins = ["pytester"]

DEADLOCKING = '''
import threading, time

def test_abba():
    a, b = threading.Lock(), threading.Lock()
    both = threading.Barrier(2)

    def helper():
        with b:
            both.wait()
            with a:
                pass

    t = threading.Thread(target=helper, name="helper")
    t.start()
    try:
        with a:
            both.wait()
            time.sleep(0.3)     # the helper waits for a first
            with b:             # closes the cycle: this thread is the newest waiter
                pass
    finally:
        t.join()

def test_after():
    assert True
'''


def session(pytester, **files):
    """pytest --deadlock on files, with JUnit XML: the result, the XML."""
    pytester.makepyfile(**files)
    xml = os.path.join(str(pytester.path), "junit.xml")
    result = pytester.runpytest_subprocess("--deadlock", "--junitxml=" + xml,
                                           timeout=120)
    with open(xml) as f:
        return result, f.read()


def test_deadlocked_test_fails_and_session_goes_on(pytester):
    result, junit = session(pytester, test_hang=DEADLOCKING)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([
        "*DeadlockError*deadlock: this wait*",
        "*pydeadlock*",
        "*cycle of 2 threads:*",
        "*waits for lock*at *test_hang.py:*",
    ])
    assert result.ret == 1, result.ret
    assert "DeadlockError" in junit and "waits for lock" in junit


def test_without_the_option_nothing_changes(pytester):
    pytester.makepyfile(test_ok="def test_ok():\n    assert True\n")
    result = pytester.runpytest_subprocess(timeout=60)
    result.assert_outcomes(passed=1)
    assert "pydeadlock" not in result.stderr.str()


# The classic subprocess pitfall (the Popen.wait documentation's warning):
# the child fills the pipe nobody reads, the test waits for its end.  No
# wait there can be failed: the test fails, the session ends with 86.
UNBREAKABLE = '''
import subprocess, sys

def test_before():
    assert True

def test_popen_wait_full_pipe():
    child = "import sys; sys.stdout.write('x' * (1 << 20)); sys.stdout.flush()"
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE)
    proc.wait()

def test_never_reached():
    assert True
'''


def test_unbreakable_deadlock_fails_its_test_and_ends_the_session(pytester):
    result, junit = session(pytester, test_pipe=UNBREAKABLE)
    assert result.ret == 86, result.ret
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([
        "*pydeadlock: deadlock: the deadlock cannot be broken*",
        "*waits for child * at *test_pipe.py:*",
        "FAILED test_pipe.py::test_popen_wait_full_pipe*",
    ])
    assert "test_never_reached" not in result.stdout.str()
    assert 'name="test_popen_wait_full_pipe"' in junit and "cannot be broken" in junit
    assert 'name="test_before"' in junit


def test_xdist_worker_deadlock_fails_its_test(pytester):
    """In an xdist worker another thread (execnet's reader) could release a
    Lock: the cycle is potential, and after --deadlock-potential-after the
    plugin has it broken like a certain one."""
    pytest.importorskip("xdist")
    pytester.makepyfile(test_hang=DEADLOCKING)
    result = pytester.runpytest_subprocess("--deadlock", "-n", "2",
                                           "--deadlock-potential-after=2",
                                           timeout=120)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([
        "*DeadlockError*",
        "*potential cycle of 2 threads, unchanged for --deadlock-potential-after*",
    ])
    assert result.ret == 1, result.ret
