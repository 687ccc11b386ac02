"""A pipeline killed with SIGKILL leaves no forkserver or worker process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Linux only, like every machine newswatch runs on (its workers rely on prctl): /proc tells the
# test which processes are alive.
# The host of a pool: starts workers (warmed with trafilatura, as in the pipeline), runs a job,
# says so, then waits to be killed. From the main thread (the CLI, an Airflow task), or from a
# thread that has ended by the time of the kill, where only the portable watcher can help.
HOST = """
import asyncio, math, sys, threading, time
from newswatch.workers import CpuPool

def serve():
    async def go():
        pool = CpuPool(2)
        await pool.run("test", 60, math.factorial, 5)
        return pool
    return asyncio.run(go())

box = []
if sys.argv[1] == "thread":
    thread = threading.Thread(target=lambda: box.append(serve()))
    thread.start()
    thread.join()
else:
    box.append(serve())
print("ready", flush=True)
time.sleep(600)
"""


def stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of a live process, None when gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    state, parent, start = fields[0], int(fields[1]), int(fields[19])
    return None if state in ("Z", "X") else (state, parent, start)


def descendants(root: int) -> dict[int, int]:
    """Every live descendant of `root`: pid -> start time (so a reused pid is not mistaken)."""
    parents: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (info := stat(int(entry.name))) is not None:
            parents[int(entry.name)] = (info[1], info[2])
    found: dict[int, int] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, start) in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = start
                frontier.append(pid)
    return found


def alive(processes: dict[int, int]) -> dict[int, int]:
    return {pid: start for pid, start in processes.items() if (stat(pid) or (0, 0, -1))[2] == start}


@pytest.mark.parametrize("started_from", ["main", "thread"])
def test_workers_and_forkserver_exit_when_the_pipeline_is_killed(started_from: str) -> None:
    host = subprocess.Popen(
        [sys.executable, "-c", HOST, started_from],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert host.stdout is not None and host.stdout.readline().strip() == "ready"
        time.sleep(1)  # a thread that started the pool has ended: the pool must still stand
        children = descendants(host.pid)
        # multiprocessing's resource tracker, the forkserver and its two workers
        forkservers = [pid for pid in children if len(descendants(pid)) == 2]
        assert len(children) == 4 and len(forkservers) == 1, children
        host.send_signal(signal.SIGKILL)
        host.wait()
        killed = time.monotonic()
        while alive(children) and time.monotonic() - killed < 10:
            time.sleep(0.05)
        left = alive(children)
        gone_after = time.monotonic() - killed
    finally:
        host.kill()
        host.wait()
    for pid in left:  # do not leave them running for the next test
        os.kill(pid, signal.SIGKILL)
    assert not left, f"still running {gone_after:.1f} s after the kill: {sorted(left)}"
    assert gone_after < 5
    print(f"{started_from}: {len(children)} processes gone {gone_after:.2f} s after the kill")
