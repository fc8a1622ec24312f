import threading
X = threading.Lock(); X.acquire()
t = threading.Thread(target=X.acquire); t.start()
t.join()
