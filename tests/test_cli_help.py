"""Every command's --help reads as written: no text taken for markup, flags shown as flags."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer.main
from typer.testing import CliRunner

from newswatch.cli.main import app


def commands() -> Iterator[tuple[list[str], Any]]:
    def walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        yield path, command
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


def help_page(path: list[str]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


def words(text: str) -> str:
    return " ".join(text.split())


def test_every_help_text_is_shown_whole() -> None:
    for path, command in commands():
        page = words(help_page(path))
        texts = [command.help or ""] + [param.help or "" for param in command.params]
        for text in texts:
            assert words(text) in page, (path, text)


def test_every_flag_is_shown_without_a_value() -> None:
    for path, command in commands():
        page = help_page(path)
        assert "<bool>" not in page, path
        flags = [p for p in command.params if getattr(p, "is_flag", False) and not p.hidden]
        for flag in flags:
            line = next(line for line in page.splitlines() if line.split()[:1] == [flag.opts[0]])
            assert line.split()[1] == words(flag.help or "").split()[0], (path, line)


def test_search_help_keeps_its_brackets_and_explains_the_syntax() -> None:
    page = words(help_page(["search"]))
    assert "each hit in [brackets]." in page
    assert '"a phrase", -word (not it), a or b (either) [required]' in page
