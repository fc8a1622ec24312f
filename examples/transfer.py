# A Python program that deadlocks: two clerks move money between two
# accounts, each locking the source account first.  Try it:
#
#   pydeadlock attach PID                        (while it hangs)
#   pydeadlock run -- python3 transfer.py        (reported as it forms, exit 86)
#   pydeadlock run --on-deadlock=break -- python3 transfer.py
#       (one transfer raises DeadlockError, is retried, and all complete)
import threading

try:
    from pydeadlock import DeadlockError
except ImportError:             # outside pydeadlock run
    class DeadlockError(RuntimeError):
        pass


class Account:
    def __init__(self, name, balance):
        self.name, self.balance = name, balance
        self.lock = threading.Lock()


savings, checking = Account("savings", 1000), Account("checking", 1000)
both_hold = threading.Barrier(2)
retries = [0]


def transfer(source, target, amount, first_time):
    with source.lock:
        if first_time:
            both_hold.wait()        # make the deadlock certain, once
        with target.lock:           # the other clerk may hold it
            source.balance -= amount
            target.balance += amount


def clerk(source, target):
    for i in range(100):
        while True:
            try:
                transfer(source, target, 1, i == 0 and retries[0] == 0)
                break
            except DeadlockError:
                retries[0] += 1     # nothing was moved: try again


clerks = [threading.Thread(target=clerk, args=(savings, checking), name="north"),
          threading.Thread(target=clerk, args=(checking, savings), name="south")]
for c in clerks:
    c.start()
for c in clerks:
    c.join()
print("balances %d %d, total %d, transfers retried %d" % (
    savings.balance, checking.balance, savings.balance + checking.balance,
    retries[0]))
