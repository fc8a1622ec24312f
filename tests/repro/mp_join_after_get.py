# Control (finishes): the correct form of mp_join_queue.py, from the
# multiprocessing programming guidelines
# (https://docs.python.org/3/library/multiprocessing.html#programming-guidelines):
# the parent get()s the child's 1 MiB item before joining the child.  A tool
# must report no deadlock.  Two processes.
import multiprocessing


def produce(q):
    q.put(b"x" * (1 << 20))


if __name__ == "__main__":
    q = multiprocessing.Queue()
    p = multiprocessing.Process(target=produce, args=(q,), name="producer")
    p.start()
    data = q.get()
    p.join()
    assert len(data) == 1 << 20 and p.exitcode == 0
    print("ok")
