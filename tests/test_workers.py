"""The CPU pool: deadlines and crashes fail one job; the others still finish."""

from __future__ import annotations

import asyncio
import hashlib
import math
import multiprocessing
import os
import re
import time
from collections.abc import Sequence
from typing import Any

import pytest

from newswatch.workers import CpuPool, JobFailed


async def outcomes(
    pool: CpuPool, jobs: Sequence[tuple[float, object, tuple[object, ...]]]
) -> list[object]:
    async def one(timeout: float, fn: object, args: tuple[object, ...]) -> object:
        try:
            return await pool.run("test", timeout, fn, *args)  # type: ignore[arg-type]
        except JobFailed as exc:
            return f"failed: {exc}"

    return list(await asyncio.gather(*(one(*job) for job in jobs)))


def test_regex_backtracking_is_stopped_by_the_alarm_and_the_worker_lives_on() -> None:
    async def go() -> list[object]:
        async with CpuPool(2) as pool:
            got = await outcomes(pool, [(1, re.match, (r"(a+)+$", "a" * 64 + "b"))])
            return got + [pool._generation]  # no pool was killed

    assert asyncio.run(go()) == ["failed: took longer than 1 s", 0]


def test_job_past_its_deadline_fails_alone_and_frees_its_core() -> None:
    async def go() -> tuple[list[object], float]:
        async with CpuPool(2) as pool:
            await pool.run(
                "test", 60, math.factorial, 5
            )  # workers started: not part of the deadline
            started = time.monotonic()
            got = await outcomes(
                pool,
                [(60, math.factorial, (10,)), (1, time.sleep, (120,))]
                + [(60, math.factorial, (n,)) for n in range(4)],
            )
            return got, time.monotonic() - started

    got, seconds = asyncio.run(go())
    assert got == [3628800, "failed: took longer than 1 s", 1, 1, 2, 6]
    assert seconds < 60  # the sleeper was killed, not waited for


def test_job_that_kills_its_worker_fails_and_the_pool_recovers() -> None:
    async def go() -> list[object]:
        async with CpuPool(2) as pool:
            got = await outcomes(pool, [(60, os._exit, (3,))])
            return got + [await pool.run("test", 60, math.factorial, 4)]

    assert asyncio.run(go()) == ["failed: its worker process died", 24]


def test_one_worker_runs_jobs_inline() -> None:
    async def go() -> tuple[int, float]:
        async with CpuPool(1) as pool:
            return await pool.run("extract", 5, math.factorial, 6), pool.seconds["extract"]

    value, seconds = asyncio.run(go())
    assert value == 720 and seconds >= 0


@pytest.mark.parametrize("workers", [1, 2])
def test_exceptions_of_the_job_itself_reach_the_caller(workers: int) -> None:
    async def go() -> None:
        async with CpuPool(workers) as pool:
            await pool.run("test", 60, math.factorial, -1)

    with pytest.raises(ValueError):
        asyncio.run(go())


def _in_daemon(results: Any) -> None:
    async def go() -> tuple[int, bool]:
        async with CpuPool(2) as pool:
            return await pool.run("test", 60, math.factorial, 7), pool._inline

    results.put(asyncio.run(go()))


def test_daemonic_host_process_runs_jobs_inline_instead_of_failing() -> None:
    """A Celery prefork worker is daemonic and may not start processes."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    host = context.Process(target=_in_daemon, args=(results,), daemon=True)
    host.start()
    got = results.get(timeout=120)
    host.join(timeout=60)
    assert got == (5040, True)


def test_job_stuck_in_c_code_is_stopped_by_the_overdue_check() -> None:
    """pbkdf2 loops in C without looking at signals, so the alarm cannot stop it."""

    async def go() -> list[object]:
        async with CpuPool(2) as pool:
            stuck = (1, hashlib.pbkdf2_hmac, ("sha256", b"pw", b"salt", 2**31 - 1))
            return await outcomes(pool, [stuck, (60, math.factorial, (5,))])

    started = time.monotonic()
    assert asyncio.run(go()) == ["failed: took longer than 1 s", 120]
    assert time.monotonic() - started < 60


def _loaded(module: str) -> bool:
    import sys

    return module in sys.modules


def test_a_pool_forks_its_workers_from_the_forkserver_started_early_with_trafilatura_loaded() -> (
    None
):
    from multiprocessing import forkserver

    from newswatch.workers import start_forkserver

    start_forkserver()
    server = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]

    async def go() -> object:
        async with CpuPool(2) as pool:
            return await pool.run("test", 30, _loaded, "trafilatura")

    assert asyncio.run(go()) is True
    # the same server, not a second one
    assert forkserver._forkserver._forkserver_pid == server  # type: ignore[attr-defined]
