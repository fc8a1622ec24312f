# Control: with the forkserver start method, a child process waits
# untimed on a multiprocessing.Semaphore(0) that the parent releases a
# second later.  The semaphore is a named POSIX semaphore: the parent
# maps it under the temporary name glibc made it with, the child under
# the name it opens, one file.  Whoever maps it may release it: the
# child is not stuck while the parent runs.  (Seen in CPython's
# test_multiprocessing_forkserver, which pydeadlock run once ended.)
import multiprocessing
import time


def child(sem):
    sem.acquire()  # WAIT:child


if __name__ == "__main__":
    multiprocessing.set_start_method("forkserver")
    sem = multiprocessing.Semaphore(0)
    p = multiprocessing.Process(target=child, args=(sem,), name="child")
    p.start()
    time.sleep(1)
    sem.release()
    p.join()
    print("ok")
