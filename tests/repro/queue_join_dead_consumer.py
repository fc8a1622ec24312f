# Deadlock: queue.Queue.join() after the only consumer thread died with an
# exception between get() and task_done()
# (https://docs.python.org/3/library/queue.html#queue.Queue.join: "blocks
# until all items in the queue have been gotten and processed ... the count
# goes down whenever a consumer calls task_done()").  The consumer thread
# "consumer" takes the job and raises before task_done(), so the queue's
# unfinished-task count stays at 1 forever.  The main thread blocks in
# q.join(), in the all_tasks_done Condition's wait; only a task_done() call
# could end that wait, and no living thread will ever make one (main is the
# only thread left).  The consumer's traceback on stderr is expected.
import queue
import threading

jobs = queue.Queue()


def consume():
    job = jobs.get()
    if job["size"] < 0:
        raise ValueError("bad job %r" % (job,))
    jobs.task_done()


consumer = threading.Thread(target=consume, name="consumer")
consumer.start()
jobs.put({"size": -1})
print("ready", flush=True)
jobs.join()  # WAIT:main
