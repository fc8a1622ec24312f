# Two threads take two plain Locks in opposite orders; main joins the
# first.  Locks held by with blocks: a snapshot proves the cycle, owners too.
import threading

a = threading.Lock()
b = threading.Lock()
both = threading.Barrier(2)


def alpha():
    with a:  # LINE_ALPHA_HOLDS
        both.wait()
        with b:  # LINE_ALPHA
            pass


def beta():
    with b:  # LINE_BETA_HOLDS
        both.wait()
        with a:  # LINE_BETA
            pass


t1 = threading.Thread(target=alpha, name="alpha")
t2 = threading.Thread(target=beta, name="beta")
t1.start()
t2.start()
print("ready", flush=True)
t1.join()  # LINE_MAIN
