# Deadlock: "joining processes that use queues", from the multiprocessing
# programming guidelines
# (https://docs.python.org/3/library/multiprocessing.html#programming-guidelines):
# a process that has put items on a multiprocessing.Queue waits before
# terminating until its feeder thread has flushed them into the pipe, so
# joining it before the items are consumed deadlocks.  The child
# ("producer") puts 1 MiB; its feeder thread ("QueueFeederThread") blocks in
# write(2) on the queue's pipe once the pipe is full; the child's main
# thread, at exit, blocks joining the feeder thread (multiprocessing's
# finalizer for the queue).  The parent's main thread blocks in p.join(), a
# waitpid() on the child.  Only the parent reading the queue could drain the
# pipe, and it waits for the child's exit.  Two processes.  With the default
# fork start method the child's stack still holds this file's p.start() line,
# hence the producer's WAIT marker there.
import multiprocessing


def produce(q):
    q.put(b"x" * (1 << 20))


if __name__ == "__main__":
    q = multiprocessing.Queue()
    p = multiprocessing.Process(target=produce, args=(q,), name="producer")
    p.start()  # WAIT:producer
    print("ready", flush=True)
    p.join()  # WAIT:main
    print(len(q.get()))
