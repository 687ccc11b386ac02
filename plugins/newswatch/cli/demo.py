"""`make demo`: serve the sample news day, run the DAG once with `airflow dags test`, show the result."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from zoneinfo import ZoneInfo

from newswatch import sample_day, store
from newswatch.cli.alerts import alert_rows, format_alerts
from newswatch.settings import Settings, source_checkout
from newswatch.store import db

DEPENDENCY_WARNINGS = ",".join(
    [
        "ignore:Could not import graphviz",  # airflow's `dags show`, unused here
        "ignore:GitWildMatchPattern",  # airflow's .airflowignore parser, on pathspec
        "ignore:Using `httpx` with `starlette.testclient`",  # fastapi, on starlette
    ]
)


def airflow_env(airflow_home: Path, checkout: Path, extra: dict[str, str]) -> dict[str, str]:
    """Environment for a throwaway Airflow: SQLite metadata, the checkout's dags/ and plugins/,
    no examples."""
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(checkout / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(checkout / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            # Warnings our dependencies give about each other, which a demo user cannot act on.
            "PYTHONWARNINGS": DEPENDENCY_WARNINGS,
            **extra,
        }
    )
    return env


def run_demo(settings: Settings) -> int:
    started = time.monotonic()
    # The DAG files are not part of the installed package: the demo runs those of a checkout.
    checkout = source_checkout() or Path.cwd()
    if not (checkout / "dags").is_dir() or not (checkout / "plugins").is_dir():
        print(
            f"no dags/ and plugins/ in {checkout}: run the demo from a newswatch source checkout "
            "(`make demo`)",
            file=sys.stderr,
        )
        return 2
    url = db.database_url(settings)
    try:
        day = sample_day.start(settings.demo_port)
    except OSError as exc:
        print(
            f"cannot serve the sample news day on 127.0.0.1:{settings.demo_port} ({exc}); "
            "set NEWSWATCH_DEMO_PORT to a free port",
            file=sys.stderr,
        )
        return 2
    try:
        print(f"sample news day served at {day.base_url}; store: {_where(url)}")
        print(
            "The sample day is imperfect on purpose: one feed answers HTTP 500 and one article "
            "page is missing (404, so the feed's summary stands in). Both show up below as the "
            "run's errors.\n",
            flush=True,
        )
        returncode = _run_dag(settings, checkout, url, day)
        print(
            f"\nsample server answered {sum(day.requests.values())} requests, "
            f"{sum(day.not_modified.values())} of them 304 Not Modified"
        )
    finally:
        day.close()
    print(last_run_summary(settings))
    print("\nStored alerts:")
    print(format_alerts(alert_rows(settings, limit=1000)))
    print(outbox_summary(settings.outbox_dir))
    config = settings.var_dir / "demo" / "config"
    print(
        f"\nThe demo's config is {config}. Commands that read the config (topics, feeds, run,\n"
        "digest) need it, or they read config/ and point the store at its real feeds:\n"
        f"  export NEWSWATCH_CONFIG_DIR={config}\n"
        "  .venv/bin/newswatch digest preview    .venv/bin/newswatch topics test taiwan --text '…'\n"
        "  .venv/bin/newswatch alerts    .venv/bin/newswatch readers list    "
        ".venv/bin/newswatch feeds health    .venv/bin/newswatch stats\n"
        "The sample site stopped with the demo: `newswatch run` would find its feeds gone and "
        "record failed polls (`make demo` serves it again for a run)."
    )
    print(f"demo finished in {time.monotonic() - started:.1f}s, DAG run exit code {returncode}")
    if not settings.database_url:
        db.stop_embedded(settings)
    return returncode


def outbox_summary(outbox: Path) -> str:
    """Who got what in the file outbox: messages per reader, alerts and digests apart."""
    emails = sorted(outbox.glob("*.eml")) if outbox.exists() else []
    per_reader: dict[str, Counter[str]] = {}
    for path in emails:
        with path.open("rb") as handle:
            msg = BytesParser(policy=policy.default).parse(handle, headersonly=True)
        kind = "digest" if path.name.startswith("digest.") else "alert"
        for reader in str(msg["To"]).split(","):
            per_reader.setdefault(reader.strip(), Counter())[kind] += 1
    lines = [
        f"\nEmails: {len(emails)} .eml files in {outbox} "
        "(one per story and reader, one digest per reader and day; reruns add none)"
    ]
    for reader, kinds in sorted(per_reader.items()):
        counts = ", ".join(
            f"{n} {kind}{'' if n == 1 else 's'}" for kind, n in sorted(kinds.items())
        )
        lines.append(f"  {reader:<32} {counts}")
    return "\n".join(lines)


DEMO_DIGEST_READER = """
subscribers:
  - name: demo-morning-desk
    emails: [morning-desk@example.com]
    mode: digest
"""


def next_digest_time(settings: Settings, now: datetime) -> datetime:
    """The next scheduled digest after now: the demo sends that one, so reruns add none."""
    zone = ZoneInfo(settings.digest_timezone)
    hour, minute = (int(part) for part in settings.digest_time.split(":"))
    local = now.astimezone(zone)
    at = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return (at if at > local else at + timedelta(days=1)).astimezone(UTC)


def _run_dag(settings: Settings, checkout: Path, url: str, day: sample_day.SampleDay) -> int:
    config_dir = day.write_config(
        settings.var_dir / "demo" / "config", settings.config_dir / "topics.yaml"
    )
    topics_yaml = config_dir / "topics.yaml"
    topics_yaml.write_text(topics_yaml.read_text() + DEMO_DIGEST_READER)
    with tempfile.TemporaryDirectory(prefix="newswatch-airflow-") as home:
        env = airflow_env(
            Path(home),
            checkout,
            {
                "NEWSWATCH_DATABASE_URL": url,
                "NEWSWATCH_CONFIG_DIR": str(config_dir),
                "NEWSWATCH_VAR_DIR": str(settings.var_dir),
                # The sample day is on loopback, which the SSRF guard refuses unless allowed,
                # and one local server needs no second between requests.
                "NEWSWATCH_ALLOW_HOSTS": "127.0.0.1",
                "NEWSWATCH_PER_HOST_INTERVAL": "0.05",
            },
        )
        digest_at = next_digest_time(settings, datetime.now(UTC)).isoformat()
        runner = [sys.executable, "-m", "newswatch.cli.demo_dags", digest_at]
        return subprocess.run(runner, env=env).returncode


def last_run_summary(settings: Settings) -> str:
    """The newest run's counts and errors, as the demo prints them."""
    with db.read(settings) as session:
        run = store.reads.latest_run(session)
        feeds = store.reads.feed_health(session, failing_first=False)
    if run is None:
        return "\nno run recorded"
    lines = [f"\nRun {run.id} ({run.trigger}, {run.started_at:%Y-%m-%d %H:%M:%S} UTC):"]
    lines += [f"  {key:<20} {value}" for key, value in sorted(run.counts.items())]
    lines += [f"  ! {error}" for error in run.errors]
    lines.append("Next polls (each feed follows its own publishing rate, at least daily):")
    lines += [
        f"  {feed.name:<20} {feed.next_poll_at:%Y-%m-%d %H:%M} UTC ({feed.status})"
        for feed in feeds
        if feed.enabled and feed.next_poll_at is not None
    ]
    return "\n".join(lines)


def _where(url: str) -> str:
    return "embedded PostgreSQL under var/pgdata" if "host=/" in url else url
