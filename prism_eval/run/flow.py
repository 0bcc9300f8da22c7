"""Users flowing through the chain on one event loop, without stage barriers (API backends).

:func:`flow` runs :meth:`prism_eval.chain.Chain.arun_user` for up to ``window`` users at a time on
one event loop in a worker thread, inside one session per backend (one client and one
concurrency limit each), so that a user's synthesis starts as soon as its own evidence is in and
a hung call holds up only its user. Outcomes come back to the caller's thread as they finish
(in that order, not dataset order), where the run loop scores and writes them; a user leaves the
window when the caller has taken it, so memory stays bounded. Users are read from the dataset on
a worker thread; an error there or a configuration error stops the flow and is raised to the
caller, and a caller that stops early cancels the users in flight.
"""
from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from typing import Iterator

from ..chain import Chain, UserOutcome
from ..datasets_io import UserInput

__all__ = ["flow", "default_window"]

_END = object()


class _Failed:
    def __init__(self, exc: BaseException):
        self.exc = exc


def default_window(backends) -> int:
    """Users in flight: twice the backends' summed concurrency (so every slot has a request
    ready while other users wait on theirs), at least 32."""
    slots = sum(int(getattr(getattr(b, "backend", b), "concurrency", 16))
                for b in {id(b): b for b in backends}.values())
    return max(32, 2 * slots)


def flow(chain: Chain, users: Iterator[UserInput], window: int,
         refresh: dict[str, set] | None = None) -> Iterator[list[UserOutcome]]:
    """Outcomes of ``users`` in lists of those finished since the last one (see module
    docstring); ``refresh`` as in :meth:`Chain.run`."""
    run = _Flow(chain, users, max(1, int(window)), refresh or {})
    thread = threading.Thread(target=run.thread, name="prism-flow", daemon=True)
    thread.start()
    try:
        while True:
            got = [run.results.get()]
            while len(got) < window:
                try:
                    got.append(run.results.get_nowait())
                except queue.Empty:
                    break
            done = [o for o in got if isinstance(o, UserOutcome)]
            run.release(len(done))
            failed = next((o for o in got if isinstance(o, _Failed)), None)
            if failed is not None:
                raise failed.exc
            if done:
                yield done
            if _END in got:
                return
    finally:
        run.cancel()
        thread.join()


class _Flow:
    """The event-loop side of :func:`flow`."""

    def __init__(self, chain: Chain, users: Iterator[UserInput], window: int, refresh: dict):
        self.chain, self.users, self.window, self.refresh = chain, users, window, refresh
        self.results: queue.Queue = queue.Queue()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.main: asyncio.Task | None = None
        self.slots: asyncio.Semaphore | None = None
        self.lock = threading.Lock()
        self.stopped = False  # the caller stopped (possibly before the loop started)

    def thread(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            self.results.put(_Failed(exc))
        else:
            self.results.put(_END)

    def release(self, n: int) -> None:
        """The caller took ``n`` outcomes: as many users may enter."""
        for _ in range(n):
            self._call(lambda: self.slots.release())

    def cancel(self) -> None:
        with self.lock:
            self.stopped = True
        self._call(lambda: self.main.cancel())

    def _call(self, fn) -> None:
        """``fn()`` on the event loop, if it still runs."""
        with self.lock:
            if self.main is not None and not self.loop.is_closed():
                try:
                    self.loop.call_soon_threadsafe(fn)
                except RuntimeError:  # closed meanwhile: nothing left to do
                    pass

    async def _main(self) -> None:
        with self.lock:
            if self.stopped:
                return
            self.loop, self.main = asyncio.get_running_loop(), asyncio.current_task()
            self.slots = asyncio.Semaphore(self.window)
        tasks: set[asyncio.Task] = set()
        backends = {id(b): b for b in self.chain.backends.values()}.values()
        async with contextlib.AsyncExitStack() as stack:
            for b in backends:
                await stack.enter_async_context(b.session())
            try:
                while True:
                    await self.slots.acquire()
                    user = await asyncio.to_thread(next, self.users, None)
                    if user is None:
                        break
                    task = asyncio.create_task(self.chain.arun_user(user, self.refresh))
                    tasks.add(task)
                    task.add_done_callback(lambda t: self._done(t, tasks))
                while tasks:
                    await asyncio.wait(set(tasks))
            finally:
                for t in tasks:
                    t.cancel()
                if tasks:
                    await asyncio.gather(*tasks, return_exceptions=True)

    def _done(self, task: asyncio.Task, tasks: set) -> None:
        tasks.discard(task)
        if task.cancelled():
            return
        if task.exception() is not None:  # a configuration error: stop everything
            self.results.put(_Failed(task.exception()))
            self.main.cancel()
            return
        self.results.put(task.result())
