"""`newswatch digest preview` and `send`: an operator sees a digest before 07:00 and sends a
past period's, once (again only on --resend), over real SMTP on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

import pytest
from conftest import Mailbox
from typer.testing import CliRunner

from newswatch import clock, pipeline
from newswatch.cli.main import app
from newswatch.sample_day import SampleDay
from newswatch.settings import Settings, get_settings

DESK = """
subscribers:
  - name: morning-desk
    emails: [desk@example.com]
    topics: [taiwan, rare-earths]
    mode: digest
"""
# The sample day's articles are stored at 09:00 JST on 5 December: the digest due at 07:00 JST
# on 6 December covers them.
STORED = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)
NEXT_MORNING = datetime(2026, 12, 6, 0, 0, tzinfo=UTC)  # 09:00 JST, that digest is due


@pytest.fixture
def stored(settings: Settings, news_day: SampleDay) -> Settings:
    config = Path(get_settings().config_dir)
    (config / "topics.yaml").write_text((config / "topics.yaml").read_text() + DESK)
    clock.freeze(STORED)
    pipeline.run_once(get_settings())
    return get_settings()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_preview_shows_the_next_digest_as_it_stands_and_sends_nothing(
    stored: Settings, smtp: Mailbox, tmp_path: Path
) -> None:
    before = len(smtp.received)
    html = tmp_path / "digest.html"
    clock.freeze(STORED + timedelta(hours=1))  # before 07:00 the next day: still gathering
    code, out, _ = run("digest", "preview", "--html", str(html))
    assert code == 0, out
    assert out.startswith("Subject: [newswatch] Daily digest 2026-12-06: 2 stories")
    assert "Japan sounds out U.S. on Takaichi visit" in out
    assert "<html" in html.read_text(encoding="utf-8").lower()
    code, out, _ = run("digest", "preview", "--day", "2026-12-05")  # the day before: nothing
    assert code == 0 and "No stories hit your topics in this period." in out
    assert len(smtp.received) == before


def test_send_delivers_a_past_digest_once_and_again_only_on_resend(
    stored: Settings, smtp: Mailbox
) -> None:
    clock.freeze(NEXT_MORNING)
    before = len(smtp.received)
    due = "morning-desk, digest due 2026-12-06 07:00 JST: "
    code, out, _ = run("digest", "send", "--subscriber", "morning-desk", "--day", "2026-12-06")
    assert code == 0 and out.startswith(due + "1 sent"), out
    code, out, _ = run("digest", "send")  # the latest due, by default: the same one
    assert code == 0 and out.startswith(due + "0 sent"), out
    assert "--resend sends it again" in out
    code, out, _ = run("digest", "send", "--day", "2026-12-06", "--resend")
    assert code == 0 and out.startswith(due + "1 sent"), out
    assert len(smtp.received) == before + 2
    first, again = (message_from_bytes(env.content) for env in smtp.received[before:])  # type: ignore[arg-type]
    assert first["Message-ID"] == again["Message-ID"]  # the resend is recognisably the same


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--subscriber", "nobody"], "no digest subscriber 'nobody'; digest subscribers: "),
        (["--day", "2026-13-01"], "expected a day like 2026-12-04"),
        (["--day", "2027-01-01"], "is not due until"),  # send only: preview shows it
    ],
)
def test_a_bad_request_is_one_line_not_a_traceback(
    stored: Settings, args: list[str], says: str
) -> None:
    commands = ["send"] if says == "is not due until" else ["preview", "send"]
    for command in commands:
        code, out, err = run("digest", command, *args)
        assert code == 2
        assert says in err and "Traceback" not in err + out
        assert len(err.strip().splitlines()) == 1
