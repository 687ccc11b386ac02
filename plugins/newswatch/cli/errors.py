"""The CLI's one error boundary: bad input is one line and exit 2, a failure one line and exit 1.

Typer prints a framed usage block for bad options and a full traceback for anything else; an
operator wants the one sentence that says what to fix. NEWSWATCH_DEBUG=1 re-raises, so a bug
still shows its traceback on request.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer
import typer.core

# Typer 0.29 vendors click; these two are not re-exported by name.
from typer._click.exceptions import NoArgsIsHelpError, UsageError

if TYPE_CHECKING:
    from sqlalchemy import exc as sa_exc

BAD_INPUT = 2
FAILED = 1
INTERRUPTED = 130  # 128 + SIGINT: how shells report a job stopped by Ctrl-C
DEBUG_HINT = "run with NEWSWATCH_DEBUG=1 for the traceback"


class NewswatchGroup(typer.core.TyperGroup):
    """The top-level command: every subcommand runs inside its `main`, so one boundary serves all.

    It also gives every command plain help (click's): Rich markup would take `[brackets]` in a help
    text for a style and drop them, and typer's Rich panels show each flag as `--json <bool>`.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _plain_help(self)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        try:
            if any("\x00" in arg for arg in argv):
                raise UsageError("an argument contains a NUL character")
            code = super().main(
                argv,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
        except Exception as exc:  # the boundary: each kind becomes one line
            if os.environ.get("NEWSWATCH_DEBUG") and not isinstance(exc, typer.TyperException):
                raise
            code = report(exc)
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


def _plain_help(command: Any) -> None:
    """Typer hands its markup mode to each command as it builds it: undo it for the whole tree."""
    command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)


def report(exc: Exception) -> int:
    """Print one line (one per problem for a config file) on stderr; return the exit code."""
    if isinstance(exc, NoArgsIsHelpError):
        exc.show()  # the help text, as for --help
        return exc.exit_code
    code, message = describe(exc)
    typer.echo(message, err=True)
    return code


def describe(exc: Exception) -> tuple[int, str]:
    """The exit code and the line to print for an exception that reached the boundary."""
    if isinstance(exc, typer.Abort):
        return FAILED, "newswatch: aborted"
    if isinstance(exc, typer.TyperException):
        ctx = exc.ctx if isinstance(exc, UsageError) else None
        where = ctx.command_path if ctx else "newswatch"
        return exc.exit_code, f"{where}: {_one_line(exc.format_message())} (see --help)"
    code, message = _classify(exc)
    return code, f"newswatch: {message}"


def _classify(exc: Exception) -> tuple[int, str]:
    # Imported here, when something failed: `newswatch --help` must not pay for them.
    import httpx
    import pydantic
    from sqlalchemy import exc as sa_exc

    from newswatch.config.load import ConfigError
    from newswatch.query import QueryError
    from newswatch.store.db import ReadTimedOut

    if isinstance(exc, ConfigError):
        return BAD_INPUT, f"config error: {exc}" if "\n" not in str(
            exc
        ) else f"config error:\n{exc}"
    if isinstance(exc, QueryError):
        return BAD_INPUT, f"bad query: {exc}"
    if isinstance(exc, pydantic.ValidationError):
        return BAD_INPUT, "bad setting: " + "; ".join(_setting_error(e) for e in exc.errors())
    if isinstance(exc, httpx.InvalidURL):
        return BAD_INPUT, f"invalid URL: {_one_line(str(exc))}"
    if isinstance(exc, ReadTimedOut):
        return FAILED, str(exc)
    if isinstance(exc, sa_exc.DBAPIError):
        return FAILED, _database_error(exc)
    if isinstance(exc, sa_exc.SQLAlchemyError):
        return FAILED, f"database error: {_one_line(str(exc))}"
    if isinstance(exc, OSError):
        what = f"{exc.filename}: " if exc.filename else ""
        return FAILED, f"{what}{exc.strerror or _one_line(str(exc))}"
    if isinstance(exc, ValueError | OverflowError):
        return BAD_INPUT, _one_line(str(exc)) or type(exc).__name__
    return FAILED, (
        f"unexpected error: {type(exc).__name__}: {_one_line(str(exc))} ({DEBUG_HINT}, "
        "and please report it)"
    )


def _database_error(exc: sa_exc.DBAPIError) -> str:
    from sqlalchemy import exc as sa_exc

    cause = _one_line(str(exc.orig)) if exc.orig is not None else _one_line(str(exc))
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        return f"database unavailable: {cause} (NEWSWATCH_DATABASE_URL)"
    if isinstance(exc, sa_exc.ProgrammingError) and "does not exist" in cause:
        return f"database error: {cause} (run `newswatch db upgrade`)"
    return f"database error: {cause}"


def _setting_error(error: Any) -> str:
    names = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"NEWSWATCH_{names.upper()}: {message}" if names else message


def _one_line(text: str, limit: int = 300) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"
