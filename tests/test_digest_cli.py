"""`newswatch digest preview` and `send`: an operator sees a digest before 07:00 and sends a
past period's, once (again only on --resend), over real SMTP on loopback."""

from __future__ import annotations

from datetime import UTC, datetime
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
# The sample day's articles are stored "now"; the clock is frozen after the run, so the digest
# due the next morning in Tokyo covers them.
MORNING = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)  # 07:00 JST on 5 December


@pytest.fixture
def stored(settings: Settings, news_day: SampleDay) -> Settings:
    config = Path(get_settings().config_dir)
    (config / "topics.yaml").write_text((config / "topics.yaml").read_text() + DESK)
    clock.freeze(datetime(2026, 12, 4, 12, 0, tzinfo=UTC))
    pipeline.run_once(get_settings())
    clock.freeze(datetime(2026, 12, 5, 0, 0, tzinfo=UTC))
    return get_settings()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_preview_prints_the_digest_and_writes_its_html_sending_nothing(
    stored: Settings, smtp: Mailbox, tmp_path: Path
) -> None:
    before = len(smtp.received)
    html = tmp_path / "digest.html"
    code, out, _ = run("digest", "preview", "--html", str(html))
    assert code == 0
    assert out.startswith("Subject: [newswatch] Daily digest 2026-12-05: 2 stories")
    assert "Japan sounds out U.S. on Takaichi visit" in out
    assert "<html" in html.read_text(encoding="utf-8").lower()
    assert len(smtp.received) == before


def test_send_delivers_a_past_digest_once_and_again_only_on_resend(
    stored: Settings, smtp: Mailbox
) -> None:
    before = len(smtp.received)
    code, out, _ = run("digest", "send", "--subscriber", "morning-desk", "--day", "2026-12-05")
    assert code == 0 and out.startswith("digests: 1 sent"), out
    code, out, _ = run("digest", "send", "--subscriber", "morning-desk", "--day", "2026-12-05")
    assert code == 0 and out.startswith("digests: 0 sent"), out
    code, out, _ = run("digest", "send", "--day", "2026-12-05", "--resend")
    assert code == 0 and out.startswith("digests: 1 sent"), out
    assert len(smtp.received) == before + 2
    ids = {env.original_content.split(b"Message-ID: ")[1][:40] for env in smtp.received[before:]}  # type: ignore[union-attr]
    assert len(ids) == 1  # the resend is recognisably the same message


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--subscriber", "nobody"], "no digest subscriber 'nobody'; digest subscribers: "),
        (["--day", "2026-13-01"], "expected a day like 2026-12-04"),
        (["--day", "2027-01-01"], "is not due until"),
    ],
)
def test_a_bad_request_is_one_line_not_a_traceback(
    stored: Settings, args: list[str], says: str
) -> None:
    for command in ("preview", "send"):
        code, out, err = run("digest", command, *args)
        assert code == 2
        assert says in err and "Traceback" not in err + out
        assert len(err.strip().splitlines()) == 1
