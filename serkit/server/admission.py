"""Admission control: how many predictions run at once, how many wait, and for how long.

Without it a server offered more requests than it can finish queues them without bound:
its backlog and its latencies grow until clients time out, and it never says no. Here,
per app (that is, per worker process):

- at most ``max_concurrency`` predictions run at once, each in a thread of the app's own
  pool (decoding and the model both count);
- at most ``max_queue`` more requests are admitted to wait for one of those slots (a
  request reading its upload waits too, so the memory held by uploads is bounded as well);
- any further request is refused at once: 503 ``overloaded`` with a ``Retry-After`` header,
  seconds estimated from recent service times and the backlog (at least 1);
- a request that is not answered within ``request_timeout_s`` of its admission gets 408
  ``upload_timeout`` (the upload did not arrive in time), 503 ``overloaded`` (it waited
  that long for a slot; with Retry-After) or 504 ``timeout`` (its prediction ran that long).

A thread cannot be killed: a prediction that overran its time limit keeps its slot until
it ends, and is counted in ``abandoned`` meanwhile. The counters are in ``GET /health``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from serkit.server.errors import ApiError
from serkit.workers import usable_cores

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger("serkit.server")

#: Requests allowed to wait per concurrent slot when ``max_queue`` is not given.
QUEUE_PER_SLOT = 4
#: Completed predictions whose durations the Retry-After estimate averages.
SERVICE_SAMPLES = 64


def resolve_limits(max_concurrency: int | None, max_queue: int | None) -> tuple[int, int]:
    """The limits, defaults filled in: one slot per available core, 4 waiting per slot."""
    concurrency = max(1, usable_cores()) if max_concurrency is None else max_concurrency
    queue = QUEUE_PER_SLOT * concurrency if max_queue is None else max_queue
    return concurrency, queue


class Admission:
    """Admits, queues, times and runs the predictions of one app (see the module docstring).

    Thread-safe, and tied to no event loop: a slot freed in a worker thread is handed to
    the next waiter on that waiter's own loop.
    """

    def __init__(self, max_concurrency: int, max_queue: int, request_timeout_s: float | None):
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.request_timeout_s = request_timeout_s
        self._lock = threading.Lock()
        self._running = 0   # computations in the pool, abandoned ones included
        self._abandoned = 0  # computations whose request timed out
        self._pending = 0   # admitted, holding no slot yet (reading the upload or waiting)
        self._waiters: deque[asyncio.Future] = deque()  # in arrival order
        self._service_s: deque[float] = deque(maxlen=SERVICE_SAMPLES)
        self._counts = {"admitted": 0, "completed": 0, "rejected": 0, "timed_out": 0}
        # Never more than max_concurrency tasks in it, so it never queues work itself. Its
        # idle threads end when the app (and so the pool) is garbage collected.
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="serkit-predict")

    def snapshot(self) -> dict:
        """The limits and the counters, for ``GET /health``."""
        with self._lock:
            return {"max_concurrency": self.max_concurrency, "max_queue": self.max_queue,
                    "request_timeout_s": self.request_timeout_s, "running": self._running,
                    "abandoned": self._abandoned, "queued": self._pending, **self._counts}

    async def run(self, read: Callable[[], Awaitable[T]], work: Callable[[T], R]) -> R:
        """Admit a request, ``await read()`` (its upload), wait for a slot, then run
        ``work(upload)`` in the pool, all within the time limit.

        Raises:
            ApiError: 503 refused or waited too long, 408 upload too slow, 504 ran too long;
                and whatever ``read`` or ``work`` raise.
        """
        self._admit()
        loop = asyncio.get_running_loop()
        deadline = None if self.request_timeout_s is None else loop.time() + self.request_timeout_s
        try:
            try:
                data = await asyncio.wait_for(read(), self._left(loop, deadline))
            except TimeoutError:
                raise self._timed_out(408, "upload_timeout", "the upload did not arrive within "
                                      f"this server's {self.request_timeout_s:g} s time limit; "
                                      "send it again on a faster connection") from None
            try:
                await self._acquire(loop, deadline)
            except TimeoutError:
                raise self._timed_out(503, "overloaded", "no prediction slot came free within "
                                      f"this server's {self.request_timeout_s:g} s time limit; "
                                      "the server is overloaded, try again later",
                                      retry=True) from None
        except BaseException:
            self._leave_pending()
            raise
        try:
            job = self._pool.submit(self._work, work, data)
        except RuntimeError:  # the pool is shut down (interpreter exit)
            self._release()
            raise ApiError(503, "shutting_down", "the server is shutting down; try again later") \
                from None
        try:
            return await asyncio.wait_for(_on_loop(job, loop), self._left(loop, deadline))
        except TimeoutError:
            self._abandon(job)
            raise self._timed_out(504, "timeout", "the prediction did not finish within this "
                                  f"server's {self.request_timeout_s:g} s time limit; send a "
                                  "shorter clip, or try again when the server is less busy") \
                from None

    # --- admission and slots -------------------------------------------------------------

    def _admit(self) -> None:
        with self._lock:
            if self._running + self._pending >= self.max_concurrency + self.max_queue:
                self._counts["rejected"] += 1
                retry = self._retry_after()
                raise ApiError(
                    503, "overloaded",
                    f"the server is at capacity ({self._running} predictions running, "
                    f"{self._pending} waiting, at most {self.max_queue} may wait); "
                    f"try again in {retry} s", headers={"Retry-After": str(retry)})
            self._pending += 1
            self._counts["admitted"] += 1

    def _leave_pending(self) -> None:
        with self._lock:
            self._pending -= 1

    async def _acquire(self, loop: asyncio.AbstractEventLoop, deadline: float | None) -> None:
        """Take a slot (first come, first served); TimeoutError at the deadline."""
        with self._lock:
            if self._running < self.max_concurrency and not self._waiters:
                self._running += 1
                self._pending -= 1
                return
            waiter = loop.create_future()
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, self._left(loop, deadline))
        except BaseException:
            with self._lock:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                    raise
                # A slot was handed over just as it stopped waiting: it is pending again
                # (the caller leaves the line), and the slot goes to the next one.
                self._pending += 1
            if waiter.done() and not waiter.cancelled():
                self._release()  # it was granted: give it back
            # else _grant finds the waiter cancelled and passes the slot on itself
            raise

    def _release(self) -> None:
        """Free a slot, or hand it to the first waiter; from any thread."""
        with self._lock:
            if not self._waiters:
                self._running -= 1
                return
            waiter = self._waiters.popleft()
            self._pending -= 1  # it holds the slot now
        try:
            waiter.get_loop().call_soon_threadsafe(self._grant, waiter)
        except RuntimeError:  # its event loop is closed: nobody is waiting there any more
            self._release()

    def _grant(self, waiter: asyncio.Future) -> None:
        if waiter.done():  # it stopped waiting (timed out, cancelled) as the slot came
            self._release()
        else:
            waiter.set_result(None)

    def _work(self, work: Callable[[T], R], data: T) -> R:
        start = time.perf_counter()
        try:
            return work(data)
        finally:
            with self._lock:
                self._service_s.append(time.perf_counter() - start)
                self._counts["completed"] += 1
            self._release()

    def _abandon(self, job: Future) -> None:
        with self._lock:
            self._abandoned += 1
            abandoned = self._abandoned
        log.warning("a prediction overran the %g s time limit; its slot stays taken until it "
                    "ends (%d such now)", self.request_timeout_s, abandoned)

        def ended(_: Future) -> None:
            with self._lock:
                self._abandoned -= 1

        job.add_done_callback(ended)

    # --- time ----------------------------------------------------------------------------

    @staticmethod
    def _left(loop: asyncio.AbstractEventLoop, deadline: float | None) -> float | None:
        return None if deadline is None else max(0.0, deadline - loop.time())

    def _timed_out(self, status: int, code: str, message: str, *, retry: bool = False) -> ApiError:
        with self._lock:
            self._counts["timed_out"] += 1
            headers = {"Retry-After": str(self._retry_after())} if retry else None
        return ApiError(status, code, message, headers=headers)

    def _retry_after(self) -> int:
        """Seconds until the backlog has likely drained (lock held): at least 1."""
        if not self._service_s:
            return 1
        mean = sum(self._service_s) / len(self._service_s)
        backlog = self._running + self._pending + 1
        return max(1, math.ceil(mean * backlog / self.max_concurrency))


def _on_loop(job: Future, loop: asyncio.AbstractEventLoop) -> asyncio.Future:
    """An asyncio future with ``job``'s outcome. Cancelling it (at the time limit) leaves
    the job running; its outcome is then dropped, also when the loop has closed meanwhile
    (which ``asyncio.wrap_future`` would report as an error in the worker thread)."""
    outcome = loop.create_future()

    def copy(_: Future) -> None:
        if outcome.done():
            return
        if job.cancelled():
            outcome.cancel()
        elif job.exception() is not None:
            outcome.set_exception(job.exception())
        else:
            outcome.set_result(job.result())

    def ended(_: Future) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody awaits it
            loop.call_soon_threadsafe(copy, job)

    job.add_done_callback(ended)
    return outcome
