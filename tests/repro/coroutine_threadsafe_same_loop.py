# Deadlock: asyncio.run_coroutine_threadsafe(coro, loop).result() called on
# the loop's own thread.  The docs say the function "is meant to be called
# from a different OS thread than the one where the event loop is running"
# (https://docs.python.org/3/library/asyncio-task.html#asyncio.run_coroutine_threadsafe).
# The coroutine is only scheduled (call_soon_threadsafe) and can only run
# when the event loop gets control back; the main thread, which is the
# loop's thread, blocks in the returned concurrent.futures.Future's result()
# (a Condition wait), so the loop never runs again.  Only the loop running
# the coroutine could complete the future, and the loop is the blocked
# thread itself.  There are no other threads.
import asyncio


async def fetch_config():
    await asyncio.sleep(0)
    return {"retries": 3}


async def main():
    loop = asyncio.get_running_loop()
    future = asyncio.run_coroutine_threadsafe(fetch_config(), loop)
    print("ready", flush=True)
    return future.result()  # WAIT:main


print(asyncio.run(main()))
