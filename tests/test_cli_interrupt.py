"""Ctrl-C during `newswatch run` stops it with one line and exit 130: the run is recorded as
interrupted and no process prints a traceback (a terminal sends SIGINT to the worker processes
too). That delivery is skipped after it is pipeline.run_once's rule, not checked here."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from pytest_httpserver import HTTPServer
from sqlalchemy import select
from werkzeug import Request, Response

from newswatch import models
from newswatch.settings import Settings
from newswatch.store import db

FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Slow</title>
<item><title>Tariffs on steel</title><link>{base}/story</link><guid>slow-1</guid>
<description>Tariffs summary.</description></item></channel></rss>"""
TOPICS = "recipients: [desk@example.com]\ntopics:\n  - name: tariffs\n    keywords: [tariff]\n"


def test_ctrl_c_during_a_run_stops_it_in_one_line_and_records_the_run(
    settings: Settings, threaded_httpserver: HTTPServer, tmp_path: Path
) -> None:
    base = threaded_httpserver.url_for("").rstrip("/")
    asked, release = threading.Event(), threading.Event()

    def stalled_page(request: Request) -> Response:
        asked.set()
        release.wait(60)
        return Response("<html><body><p>late</p></body></html>", content_type="text/html")

    threaded_httpserver.expect_request("/feed").respond_with_data(
        FEED.format(base=base), content_type="application/rss+xml"
    )
    threaded_httpserver.expect_request("/story").respond_with_handler(stalled_page)
    threaded_httpserver.expect_request("/robots.txt").respond_with_data("", status=404)
    config = tmp_path / "config"
    config.mkdir()
    (config / "feeds.yaml").write_text(f"feeds:\n  - {{name: Slow, url: '{base}/feed'}}\n")
    (config / "topics.yaml").write_text(TOPICS)
    env = {
        **os.environ,
        "NEWSWATCH_CONFIG_DIR": str(config),
        "NEWSWATCH_EXTRACT_WORKERS": "2",  # real worker processes, which get the SIGINT too
    }
    newswatch = str(Path(sys.executable).with_name("newswatch"))
    run = subprocess.Popen(
        [newswatch, "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal's job has
    )
    try:
        assert asked.wait(60), "the run never asked for the page"
        os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C at a terminal does
        out, err = run.communicate(timeout=60)
    finally:
        release.set()
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 130, (out, err)
    assert "Traceback" not in err and "please report" not in err, err
    assert err.strip().splitlines()[-1].startswith("newswatch: interrupted"), err
    with db.session_factory(settings)() as session:
        (recorded,) = session.scalars(select(models.Run)).all()
        assert recorded.finished_at is not None
        assert any("interrupted" in error for error in recorded.errors), recorded.errors
        assert session.scalars(select(models.Alert)).all() == []
