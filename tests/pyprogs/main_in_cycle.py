# A deadlock between the main thread and one other: main holds "a" and
# wants "b", "other" holds "b" and wants "a".  Under break, one wait
# raises DeadlockError; on a statically linked interpreter only the main
# thread's can, and is chosen.
import threading

from pydeadlock import DeadlockError

a, b = threading.Lock(), threading.Lock()
other_holds = threading.Event()
main_holds = threading.Event()
outcome = {}


def other():
    with b:
        other_holds.set()
        main_holds.wait()
        try:
            with a:  # LINE_OTHER
                outcome["other"] = "ate"
        except DeadlockError:
            outcome["other"] = "refused"


t = threading.Thread(target=other, name="other")
t.start()
with a:
    other_holds.wait()
    main_holds.set()
    try:
        with b:  # LINE_MAIN
            outcome["main"] = "ate"
    except DeadlockError:
        outcome["main"] = "refused"
t.join()
print(sorted(outcome.items()))
print("ok" if sorted(outcome.values()) == ["ate", "refused"] else "BROKEN")
