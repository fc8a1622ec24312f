"""AB/BA with no barrier: "one" takes a then b, "two" b then a, once each.
The window is a few bytecodes (the call to work() between the two
acquisitions, where the interpreter may hand the GIL over): plain runs
essentially never deadlock; explore finds the schedule that does."""
import threading
a = threading.Lock()
b = threading.Lock()
n = 0
def work():
    global n
    n += 1
def one():
    with a:
        work()
        with b:
            work()
def two():
    with b:
        work()
        with a:
            work()
t1 = threading.Thread(target=one, name="one")
t2 = threading.Thread(target=two, name="two")
t1.start(); t2.start()
t1.join(); t2.join()
print("ok", n)
