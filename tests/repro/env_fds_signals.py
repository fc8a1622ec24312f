# Control (finishes): prints, as one JSON line, the process's own view of
# what a preload tool might disturb, then "ok".  Run it plainly and under
# the tool and compare the JSON lines: open file descriptors (from
# /proc/self/fd, without the descriptor used to list them), the environment's
# keys, the values of LD_PRELOAD and PYTHONPATH (null when unset), the
# disposition of every catchable signal as signal.getsignal() reports it
# (SIG_DFL, SIG_IGN, a handler's name, or null when the handler was not
# installed from Python), and the blocked-signal mask of the main thread
# (https://docs.python.org/3/library/signal.html#signal.getsignal,
# https://docs.python.org/3/library/os.html#os.environ).  No threads.
import json
import os
import signal


def open_fds():
    fds = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            os.fstat(fd)
        except OSError:  # the directory descriptor listdir() used, now closed
            continue
        fds.append(fd)
    return sorted(fds)


def signal_name(num):
    try:
        return signal.Signals(num).name
    except ValueError:
        if signal.SIGRTMIN < num < signal.SIGRTMAX:
            return "SIGRTMIN+%d" % (num - signal.SIGRTMIN)
        return "SIG%d" % num


def disposition(handler):
    if handler is None:
        return None
    if handler == signal.SIG_DFL:
        return "SIG_DFL"
    if handler == signal.SIG_IGN:
        return "SIG_IGN"
    return getattr(handler, "__qualname__", repr(handler))


catchable = sorted(set(signal.valid_signals())
                   - {signal.SIGKILL, signal.SIGSTOP})
view = {
    "fds": open_fds(),
    "environ_keys": sorted(os.environ),
    "LD_PRELOAD": os.environ.get("LD_PRELOAD"),
    "PYTHONPATH": os.environ.get("PYTHONPATH"),
    "signals": {signal_name(n): disposition(signal.getsignal(n))
                for n in catchable},
    "blocked_signals": sorted(signal_name(n) for n in
                              signal.pthread_sigmask(signal.SIG_BLOCK, [])),
}
print(json.dumps(view, sort_keys=True))
print("ok")
