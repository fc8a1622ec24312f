# Control (finishes): the main thread waits, without a timeout, on a
# multiprocessing.Event that a child process sets after 2 s
# (https://docs.python.org/3/library/multiprocessing.html#multiprocessing.Event).
# Main is the only thread of its process and waits untimed, but the waker
# is another process: a tool must report no deadlock.  Two processes.
import multiprocessing
import time


def set_later(ev):
    time.sleep(2)
    ev.set()


if __name__ == "__main__":
    ev = multiprocessing.Event()
    child = multiprocessing.Process(target=set_later, args=(ev,),
                                    name="setter")
    child.start()
    assert ev.wait()
    child.join()
    assert child.exitcode == 0
    print("ok")
