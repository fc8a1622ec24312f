"""pytest --deadlock, tested with pytest's own pytester (run in a venv
where pydeadlock is pip-installed: tests/run/pip-install.test)."""
import os

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


def test_deadlocked_test_fails_and_session_goes_on(pytester):
    pytester.makepyfile(test_hang=DEADLOCKING)
    xml = os.path.join(str(pytester.path), "junit.xml")
    result = pytester.runpytest_subprocess("--deadlock", "--junitxml=" + xml,
                                           timeout=120)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([
        "*DeadlockError*deadlock: this wait*",
        "*pydeadlock*",
        "*cycle of 2 threads:*",
        "*waits for lock*at *test_hang.py:*",
    ])
    assert result.ret == 1, result.ret
    with open(xml) as f:
        junit = f.read()
    assert "DeadlockError" in junit and "waits for lock" in junit


def test_without_the_option_nothing_changes(pytester):
    pytester.makepyfile(test_ok="def test_ok():\n    assert True\n")
    result = pytester.runpytest_subprocess(timeout=60)
    result.assert_outcomes(passed=1)
    assert "pydeadlock" not in result.stderr.str()
