"""The `newswatch` executable: the command line app, then an exit that skips tearing the
interpreter down.

Once a command has done its work and written its output, CPython still frees every object it
made, module by module: 0.26 s after `newswatch run` on 1,000 pages, longer than most read-only
commands take to answer. Instagram skips the same teardown in its servers with `os._exit`. The
exit handlers still run (the workers, the forkserver, logging), and the standard streams are
flushed, before the process ends with the command's exit code. The tests call `app` and keep
the usual exit.
"""

from __future__ import annotations

import atexit
import os
import sys

_exit_code: list[int] = []  # set once the command has ended with an exit code


def main() -> None:
    # Registered before the app is imported, so it runs after every handler the app registers.
    atexit.register(_exit_now)
    from newswatch.cli.main import app

    try:
        app()
    except SystemExit as stop:
        _exit_code.append(exit_status(stop.code))
        raise
    _exit_code.append(0)


def exit_status(code: object) -> int:
    """The status Python gives a SystemExit code: None is 0, a number itself, anything else 1
    (after printing it, which Python does before the exit handlers run)."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def _exit_now() -> None:
    """End the process now with the command's exit code. After an uncaught exception (no code
    was set), or when the output cannot be flushed (a full disk, a closed pipe), leave the exit
    to Python, which reports that and exits 120 as it always did."""
    if not _exit_code:
        return
    for stream in (sys.stdout, sys.stderr):
        if stream is None:  # started with that descriptor closed: nothing to flush
            continue
        try:
            stream.flush()
        except (OSError, ValueError):
            return
    os._exit(_exit_code[0])
