"""Every command answers bad input with one clear line and exit 2, a failure with exit 1; never a
traceback. The walk enumerates the commands from the app itself, so a new one is covered."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from newswatch.cli.errors import describe
from newswatch.cli.main import app

REPO = Path(__file__).resolve().parents[1]
DOWN = "postgresql://postgres@127.0.0.1:1/newswatch"  # nothing listens on port 1
# Arguments a command needs before an option can be tried; none of them does anything harmful.
FILLERS = {"url": "http://127.0.0.1:1/feed", "url_or_name": "nothing", "alert_id": "1"}


def _commands() -> Iterator[tuple[list[str], typer.core.TyperCommand]]:
    def walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        yield path, command
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


def _bad_values(tmp: Path) -> list[str]:
    (tmp / "a-directory").mkdir(exist_ok=True)
    (tmp / "latin1.txt").write_bytes(b"caf\xe9 \xff\xfe")
    return [
        "99999999999999999999",
        "-1",
        "0",
        "garbage",
        "x" * 5000,
        "nul\x00byte",
        "/nonexistent/file",
        str(tmp / "a-directory"),
        str(tmp / "latin1.txt"),
        "((((",
        "(" * 1000 + "a" + ")" * 1000,
        "NOT " * 3000 + "a",
    ]


def _invocations(tmp: Path) -> Iterator[list[str]]:
    for path, command in _commands():
        arguments = [p for p in command.params if p.param_type_name == "argument"]
        fillers = [FILLERS.get(p.name or "", "x") for p in arguments]
        subcommands = bool(getattr(command, "commands", None))
        yield [*path, *fillers, "--no-such-option"]
        yield [*path, *fillers, "unexpected-extra" if not subcommands else "no-such-command"]
        for param in command.params:
            if param.param_type_name == "option" and (param.is_flag or param.hidden):  # type: ignore[attr-defined]
                continue
            if param.param_type_name == "option" and param.name in (
                "install_completion",
                "show_completion",
            ):
                continue
            for value in _bad_values(tmp):
                if param.param_type_name == "argument":
                    index = arguments.index(param)
                    yield [*path, *fillers[:index], value, *fillers[index + 1 :]]
                else:
                    yield [*path, *fillers, param.opts[0], value]


def _wrote_a_file_so_named(args: list[str], folder: Path) -> bool:
    """Whether `feeds export -o NAME` wrote NAME; the file is removed, so that no later command
    finds it."""
    written = folder / args[3] if args[:3] == ["feeds", "export", "--output"] else None
    if written is None or not written.is_file():
        return False
    written.unlink()
    return True


def _message(output: str) -> list[str]:
    """The lines of output, without `topics test`'s echo of a short query and its caret."""
    lines = output.strip().splitlines()
    if len(lines) == 3 and lines[1].strip() == "^":
        lines = lines[2:]
    return lines


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No database, no loopback fetches, a private copy of the config."""
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", DOWN)
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(config))
    monkeypatch.setenv("NEWSWATCH_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("NEWSWATCH_ALLOW_HOSTS", raising=False)
    monkeypatch.delenv("NEWSWATCH_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)  # a file a command writes by a relative name lands here
    return config


def test_every_option_of_every_command_answers_bad_input_in_one_line(
    offline: Path, tmp_path: Path
) -> None:
    before = {p.name: p.read_bytes() for p in offline.iterdir()}
    runner = CliRunner()
    seen, failures = set(), []
    for args in _invocations(tmp_path):
        seen.add(" ".join(a for a in args[:2] if a.isidentifier()))
        result = runner.invoke(app, args)
        if result.exit_code == 0 and _wrote_a_file_so_named(args, tmp_path):
            continue  # any name is one `feeds export -o` may write
        lines = _message(result.output)
        crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
        if (
            result.exit_code not in (1, 2)
            or crashed
            or "Traceback" in result.output
            or len(lines) != 1
            or len(lines[0]) > 400
        ):
            shown = [a if len(a) < 40 else a[:20] + f"…({len(a)})" for a in args]
            failures.append(f"{shown}: exit {result.exit_code}, {result.output[:300]!r}")
    assert failures == []
    assert {"stats", "search", "feeds add", "alerts resend", "topics backtest"} <= seen
    assert {p.name: p.read_bytes() for p in offline.iterdir()} == before  # nothing was written


def test_database_down_is_one_line_and_exit_1(offline: Path) -> None:
    runner = CliRunner()
    for args in (
        ["stats"],
        ["feeds", "list"],
        ["alerts", "--state", "failed"],
        ["alerts", "resend", "1"],
        ["search", "Taiwan"],
        ["topics", "backtest", "taiwan"],
        ["db", "upgrade"],
        ["run"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert result.output.startswith("newswatch: database unavailable: "), result.output
        assert "Connection refused" in result.output and len(result.output.splitlines()) == 1


def test_commands_that_need_no_database_work_without_one(offline: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["topics", "test", "Taiwan", "--text", "Taiwan news"])
    assert result.exit_code == 0 and "[Taiwan] news" in result.output
    assert runner.invoke(app, ["topics", "check"]).exit_code == 0


def test_a_bad_setting_names_its_variable(offline: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_ALERT_MAX_ATTEMPTS", "many")
    result = CliRunner().invoke(app, ["stats"])
    assert result.exit_code == 2
    assert result.output.startswith("newswatch: bad setting: NEWSWATCH_ALERT_MAX_ATTEMPTS: ")


def test_an_embedded_database_under_a_path_with_a_space_is_refused_in_one_line(
    offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEWSWATCH_DATABASE_URL")
    monkeypatch.setenv("NEWSWATCH_VAR_DIR", str(offline / "My Projects" / "var"))
    result = CliRunner().invoke(app, ["db", "url"])
    assert result.exit_code == 2, result.output
    (line,) = result.output.splitlines()
    assert "path has a space" in line and "NEWSWATCH_VAR_DIR" in line
    assert not (offline / "My Projects").exists()  # nothing started, nothing made


def test_debug_shows_the_traceback(offline: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSWATCH_DEBUG", "1")
    result = CliRunner().invoke(app, ["stats"])
    assert isinstance(result.exception, OperationalError)


def test_an_unexpected_error_says_how_to_see_more() -> None:
    code, line = describe(RuntimeError("boom\nsecond line"))
    assert code == 1
    assert line == (
        "newswatch: unexpected error: RuntimeError: boom (run with NEWSWATCH_DEBUG=1 for the "
        "traceback, and please report it)"
    )


class _DroppingProxy:
    """Forwards a PostgreSQL connection's start-up, then hangs up on its first query: the
    server going away in the middle of a command."""

    def __init__(self, upstream: tuple[str, int] | str) -> None:
        """upstream: the server's (host, port), or the path of its Unix socket."""
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if isinstance(self.upstream, str):
                server = socket.socket(socket.AF_UNIX)
                server.connect(self.upstream)
            else:
                server = socket.create_connection(self.upstream)
            server.sendall(client.recv(65536))  # the start-up message
            threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()
            client.recv(65536)  # the first query: the "server" goes away instead
            for end in (client, server):
                end.shutdown(socket.SHUT_RDWR)
                end.close()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass


def test_database_going_away_mid_command_is_one_line(
    database_url: str, offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = make_url(database_url)
    socket_dir = url.query.get("host")  # embedded PostgreSQL: ?host=<socket folder>
    if url.host:
        proxy = _DroppingProxy((url.host, url.port or 5432))
    else:
        assert isinstance(socket_dir, str), database_url
        proxy = _DroppingProxy(f"{socket_dir}/.s.PGSQL.{url.port or 5432}")
    proxied = url.set(
        host="127.0.0.1", port=proxy.port, query={"sslmode": "disable", "gssencmode": "disable"}
    )
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", proxied.render_as_string(hide_password=False))
    try:
        result = CliRunner().invoke(app, ["feeds", "list"])
    finally:
        proxy.listener.close()
    assert result.exit_code == 1, result.output
    assert result.output.startswith("newswatch: database unavailable: "), result.output
    assert len(result.output.splitlines()) == 1


def test_the_installed_command_answers_in_one_line(offline: Path) -> None:
    """The real entry point once (it takes seconds to import); the rest runs in-process."""
    newswatch = str(Path(sys.executable).with_name("newswatch"))
    done = subprocess.run([newswatch, "stats"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == "", done
    assert done.stderr.startswith("newswatch: database unavailable: ")
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


@pytest.mark.parametrize("query", ["", "   ", '""', "-"])
def test_a_search_without_a_word_is_refused(offline: Path, query: str) -> None:
    result = CliRunner().invoke(app, ["search", query])
    assert result.exit_code == 2 and "a search needs at least one word" in result.output


@pytest.mark.parametrize("device", ["/dev/zero", "fifo"])
def test_topics_test_never_reads_a_device_or_pipe(offline: Path, device: str) -> None:
    if device == "fifo":
        device = str(offline / "pipe")
        os.mkfifo(device)
    result = CliRunner().invoke(app, ["topics", "test", "x", "--file", device])
    assert result.exit_code == 2 and "not a regular file" in result.output


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("NEWSWATCH_FULL_POLL_AFTER_DAYS", "99999999999"),
        ("NEWSWATCH_STORY_SIMILARITY", "nan"),
        ("NEWSWATCH_STORY_SIMILARITY", "2"),
        ("NEWSWATCH_MAX_POLL_INTERVAL_HOURS", "99999999999999"),
        ("NEWSWATCH_EXTRACT_WORKERS", "0"),
        ("NEWSWATCH_DATABASE_URL", "mysql://x@127.0.0.1/x"),
    ],
)
def test_an_out_of_range_setting_is_refused_before_any_work(
    offline: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 2 and f"bad setting: {name}" in result.output
    assert "Traceback" not in result.output
