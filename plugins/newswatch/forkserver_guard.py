"""Worker processes die with the pipeline, even when it is killed with SIGKILL.

Without this, a killed pipeline left its forkserver and workers running for good: each worker
waits on a job queue whose writing end it holds itself, and holds the forkserver's "alive" pipe
open, so neither ever sees the pipeline go. `workers.CpuPool` preloads this module into its
forkserver (importing it there asks Linux to SIGKILL the forkserver when its parent dies) and
runs `guard_worker` in every worker (the same, for the worker and its parent, the forkserver),
plus a watcher thread that also works where there is no prctl.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# How often a worker's watcher looks for its host. A wake-up costs two system calls (~2 µs).
WATCH_INTERVAL = 0.5


def die_with_parent() -> bool:
    """Have Linux SIGKILL this process when its parent dies; False where that is not possible.

    The kernel sends the signal when the *thread* that forked this process ends, not the
    process: call it only in a child forked by a thread that lives as long as its process
    (the forkserver forks workers from its only thread; see CpuPool._start for the forkserver).
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def watch_host(host: int, parent: int, interval: float = WATCH_INTERVAL) -> None:
    """Portable fallback: a daemon thread ends this process once `host` is gone or this
    process was handed to another parent (its own parent died)."""

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent or not _alive(host):
                os._exit(1)

    threading.Thread(target=watch, name="newswatch-host-watch", daemon=True).start()


def guard_worker(host: int) -> None:
    """ProcessPoolExecutor initializer: this worker ends when its forkserver or `host` does.

    A fork clears the parent-death signal, so each worker asks for its own. Ctrl-C is the
    pipeline's to answer: a terminal sends SIGINT to every process of the job, and each worker
    printed a KeyboardInterrupt traceback; the pipeline stops the workers as it ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    die_with_parent()
    watch_host(host, parent)


def _preloaded_by_forkserver() -> bool:
    """Whether multiprocessing's forkserver is importing this module because it was named in
    its `preload` list (not merely imported by another preloaded module)."""
    from multiprocessing import forkserver

    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is forkserver.main.__code__:
            return __name__ in (frame.f_locals.get("preload") or ())
        frame = frame.f_back  # type: ignore[assignment]
    return False


# In a forkserver that preloads this module by name only (CpuPool decides when): anywhere else
# (the pipeline importing workers.py, a forkserver started from a passing thread) it does
# nothing. If the pipeline died before this line, the forkserver's own "alive" pipe ends it.
if _preloaded_by_forkserver():
    die_with_parent()
