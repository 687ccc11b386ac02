"""CPU work off the event loop, on both cores, under a deadline per job.

Feed parsing and page extraction are the pipeline's CPU cost. `CpuPool` runs them in worker
processes (forked from a clean forkserver process, never from the host) while the event loop keeps downloading, so fetching overlaps extraction. A job
past its deadline has its workers killed and fails alone (the caller falls back to the feed's
own text); innocent jobs that shared the killed pool are run again on a fresh one. Where
processes cannot be started (a daemonic worker) jobs run in a thread, without the deadline.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

from newswatch.forkserver_guard import guard_worker

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
# A worker is replaced after this many jobs, so whatever a long run leaves behind in one (heap
# fragmentation from lxml trees) is given back. trafilatura's own caches are bounded LRUs. Each
# replacement costs a fork and cold caches (~0.2 s: justext builds its stoplists lazily); at
# 200 that was ~3 CPU-seconds in a run of 1,000 pages.
WORKER_TASKS = 1000
WARM_MODULES = (
    "newswatch.extract",
    "newswatch.trafilatura_gates",
    "trafilatura",
    "newswatch.feeds",
)
GUARD_MODULE = "newswatch.forkserver_guard"  # imported first: guarded before trafilatura loads


QUEUED_PER_WORKER = 2  # jobs handed to each worker at a time: one running, one waiting
OVERDUE_SLACK = 2.0  # seconds past the worst honest finish before a pool is killed


class JobFailed(Exception):
    """A job ran past its deadline or killed its worker; the message says which."""


class _Expired(BaseException):
    """Raised in a worker by the alarm; carries the seconds the job ran. A BaseException, so
    the job's own `except Exception` (trafilatura has many) cannot swallow it."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


def _with_alarm(call: Callable[[], T], timeout: float) -> tuple[T, float]:
    """In the worker: call() and its seconds, stopped by SIGALRM after `timeout` seconds."""

    def expire(signum: int, frame: object) -> None:
        raise _Expired(time.perf_counter() - started)

    started = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return call(), time.perf_counter() - started
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _preload(warm: Sequence[str]) -> list[str]:
    """What the forkserver imports before forking workers. Linux kills a guarded forkserver when
    the *thread* that started it ends, so it is guarded only when started from the main thread,
    which ends with the process. Started from another thread, it goes anyway, a little later:
    the workers' watchers end them, which closes its "alive" pipe."""
    guarded = threading.current_thread() is threading.main_thread()
    return [GUARD_MODULE, *warm] if guarded else list(warm)


def start_forkserver(warm: Sequence[str] = WARM_MODULES) -> None:
    """Start the process that workers fork from now, in the main thread, so it imports `warm`
    (~1 s of trafilatura and lxml) on the other core while this process finishes its own start;
    the first CpuPool finds it ready instead of waiting for it. Elsewhere it does nothing: the
    pool starts it on first use, as always."""
    if threading.current_thread() is not threading.main_thread():
        return
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(_preload(warm))
    forkserver.ensure_running()


def _import(modules: Sequence[str]) -> None:
    for name in modules:
        importlib.import_module(name)


class CpuPool:
    """At most `workers` jobs at a time in worker processes, started on first use.

    Workers import `warm` before the first job, so no job's deadline pays for start-up.
    """

    def __init__(self, workers: int, warm: Sequence[str] = WARM_MODULES) -> None:
        self.workers = max(1, workers)
        self.warm = tuple(warm)
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self._inline = self.workers == 1
        self._pool: ProcessPoolExecutor | None = None
        self._started: asyncio.Future[ProcessPoolExecutor] | None = None
        self._generation = 0  # bumped when a stuck or broken pool is thrown away
        # Each worker has its next job waiting, so it never idles while this busy process
        # gets round to handing it one.
        self._slots = asyncio.Semaphore(self.workers * QUEUED_PER_WORKER)

    async def run(
        self, stage: str, timeout: float, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """fn(*args) in a worker; JobFailed when it exceeds `timeout` seconds or crashes twice.

        The worker stops the job itself when its time is up (an alarm signal: the worker lives
        on); a job stuck where signals cannot reach it (inside C code) is caught here once it
        is overdue even for a job that waited behind others, and its pool is killed. The
        seconds the job ran are added to `seconds[stage]`.
        """
        call = functools.partial(fn, *args, **kwargs)
        overdue = QUEUED_PER_WORKER * timeout + OVERDUE_SLACK
        async with self._slots:
            for attempt in range(2):
                pool, generation = await self._ready(), self._generation
                try:
                    if pool is None:
                        started = time.perf_counter()
                        try:
                            return await asyncio.to_thread(call)
                        finally:
                            self.seconds[stage] += time.perf_counter() - started
                    future = asyncio.get_running_loop().run_in_executor(
                        pool, _with_alarm, call, timeout
                    )
                    value, seconds = await asyncio.wait_for(future, overdue)
                    self.seconds[stage] += seconds
                    return value
                except _Expired as expired:
                    self.seconds[stage] += expired.seconds
                    raise JobFailed(f"took longer than {timeout:g} s") from None
                except TimeoutError:
                    self._discard(generation)
                    raise JobFailed(f"took longer than {timeout:g} s") from None
                except BrokenProcessPool:
                    self._discard(generation)
                    if attempt == 1:
                        raise JobFailed("its worker process died") from None
                    # killed for someone else's job, or crashed: one more try on a fresh pool
        raise AssertionError("unreachable")

    def start(self) -> None:
        """Start the workers now, in the background (a running event loop is needed): their
        imports (~1 s) then overlap the first downloads instead of delaying the first job."""
        if not self._inline and self._started is None:
            self._started = asyncio.ensure_future(self._start())

    async def _ready(self) -> ProcessPoolExecutor | None:
        """The started pool, or None to run inline."""
        if self._inline:
            return None
        self.start()
        assert self._started is not None
        try:
            return await asyncio.shield(self._started)
        # A daemonic process (a Celery prefork worker) "cannot have children"; a worker that
        # cannot import what it needs breaks the pool: run inline rather than not at all.
        except (AssertionError, OSError, RuntimeError, BrokenProcessPool) as exc:
            log.warning("running CPU work inline: cannot start worker processes (%s)", exc)
            self._inline = True
            return None

    async def _start(self) -> ProcessPoolExecutor:
        """A pool whose workers have imported `warm`: jobs pay neither for start nor imports."""
        context = multiprocessing.get_context("forkserver")
        # Workers fork from a clean server process that never imports the host's __main__
        # (spawn would re-import the `airflow` command, whose task environment forbids that).
        # The first submit below starts it, in this thread, unless start_forkserver did.
        context.set_forkserver_preload(_preload(self.warm))
        pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            max_tasks_per_child=WORKER_TASKS,
            initializer=guard_worker,  # each worker dies with the forkserver or with us
            initargs=(os.getpid(),),
        )
        self._pool = pool
        try:
            loop = asyncio.get_running_loop()
            await asyncio.gather(
                *(loop.run_in_executor(pool, _import, self.warm) for _ in range(self.workers))
            )
        except BaseException:
            self._discard(self._generation)
            raise
        return pool

    def _discard(self, generation: int) -> None:
        """Kill the pool of `generation` (once) so a stuck job cannot hold a core."""
        if generation != self._generation or self._pool is None:
            return
        pool, self._pool, self._started = self._pool, None, None
        self._generation += 1
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def __aenter__(self) -> CpuPool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.close)
