"""Programs that never deadlock, for pydeadlock run --lock-order.

    python3 shapes.py SHAPE

Each shape runs its threads one after the other, so none can hang, and
prints "ok".  The shapes whose name starts with "bad_" take locks in
orders that could deadlock if their threads overlapped; the others are
correct however they overlap.  Lines the tests look for are marked
"# MARK name".
"""
import queue
import sys
import threading

a = threading.Lock()  # MARK made_a
b = threading.Lock()  # MARK made_b
c = threading.Lock()  # MARK made_c
gate = threading.Lock()


def in_turn(*bodies):
    for body in bodies:
        t = threading.Thread(target=body)
        t.start()
        t.join()


def bad_abba():
    def first():
        with a:  # MARK first_holds_a
            with b:  # MARK first_takes_b
                pass

    def second():
        with b:  # MARK second_holds_b
            with a:  # MARK second_takes_a
                pass

    in_turn(first, second)


def bad_chain3():
    def pair(x, y):
        def body():
            with x:
                with y:
                    pass
        return body
    in_turn(pair(a, b), pair(b, c), pair(c, a))


def bad_explicit():
    # acquire() with no argument blocks as `with` does
    def first():
        a.acquire()
        b.acquire()
        b.release()
        a.release()

    def second():
        b.acquire()
        a.acquire()
        a.release()
        b.release()

    in_turn(first, second)


class Account:
    def __init__(self, n):
        self.n = n
        self.lock = threading.Lock()  # MARK made_account


def bad_class():
    # two accounts, two objects, opposite orders on different objects: the
    # class (where the locks are made) is what could deadlock
    class Pair:
        def __init__(self):
            self.x = threading.Lock()  # MARK made_x
            self.y = threading.Lock()  # MARK made_y
    p, q = Pair(), Pair()

    def first():
        with p.x:
            with p.y:
                pass

    def second():
        with q.y:
            with q.x:
                pass

    in_turn(first, second)


def bad_ring():
    # five forks of one class, each philosopher left then right: a ring
    forks = [threading.Lock() for _ in range(5)]  # MARK made_forks

    def philosopher(i):
        def body():
            with forks[i]:
                with forks[(i + 1) % 5]:
                    pass
        return body
    in_turn(*(philosopher(i) for i in range(5)))


def ordered():
    def body():
        with a:
            with b:
                with c:
                    pass
    in_turn(body, body)


def gated():
    def first():
        with gate:
            with a:
                with b:
                    pass

    def second():
        with gate:
            with b:
                with a:
                    pass

    in_turn(first, second)


def sorted_accounts():
    # transfers between accounts of one class, locks taken in id order
    accounts = [Account(i) for i in range(4)]

    def transfer(x, y):
        def body():
            first, second = sorted((x, y), key=lambda acc: acc.n)
            with first.lock:
                with second.lock:
                    pass
        return body
    in_turn(transfer(accounts[0], accounts[1]),
            transfer(accounts[1], accounts[0]),
            transfer(accounts[3], accounts[2]))


def reentry():
    r = threading.RLock()

    def first():
        with r:
            with a:
                with r:  # re-entry: no order
                    pass

    def second():
        with r:
            pass

    in_turn(first, second)


def nonblocking():
    # a try, and a timed acquire, while holding another: no order
    def first():
        with a:
            with b:
                pass

    def second():
        with b:
            if a.acquire(False):
                a.release()
            if a.acquire(timeout=1):
                a.release()

    in_turn(first, second)


def conditions():
    # Condition, Event, Queue, Semaphore and Barrier, the way they are
    # documented, with timeouts that expire and notifications that come
    cv = threading.Condition()
    ev = threading.Event()
    q = queue.Queue(maxsize=1)
    sem = threading.Semaphore(1)
    items = []

    def waiter():
        with cv:
            cv.wait(0.01)
            cv.wait_for(lambda: items, timeout=5)
        ev.wait(0.01)
        q.put(1)
        with sem:
            with a:
                pass

    def notifier():
        with cv:
            items.append(1)
            cv.notify_all()
        ev.set()
        q.get()
        with a:
            with sem:
                pass

    t = threading.Thread(target=waiter)
    t.start()
    notifier()
    t.join()
    in_turn(waiter, notifier)


def released_elsewhere():
    # a Lock used as a signal: taken by one thread, released by another
    done = threading.Lock()
    done.acquire()

    def worker():
        with a:
            done.release()

    t = threading.Thread(target=worker)
    t.start()
    with done:
        with a:
            pass
    t.join()


SHAPES = {name: f for name, f in globals().items()
          if callable(f) and not name.startswith("_") and name not in
          ("in_turn", "Account")}

if __name__ == "__main__":
    SHAPES[sys.argv[1]]()
    print("ok")
