"""Real parts for every test: a fresh PostgreSQL database, loopback HTTP, loopback SMTP, Airflow on SQLite."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

# Airflow reads its environment at import: point it at a throwaway home before anything imports it.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="newswatch-test-airflow-")
REPO = Path(__file__).resolve().parents[1]
os.environ.update(
    {
        "AIRFLOW_HOME": _AIRFLOW_HOME,
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
)

import psycopg  # noqa: E402
import pytest  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import SMTP, Envelope, Session  # noqa: E402
from pytest_httpserver import HTTPServer  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from newswatch import clock, models, sample_day  # noqa: E402
from newswatch.settings import Settings, get_settings  # noqa: E402
from newswatch.store import db  # noqa: E402

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def _server_url(tmp_root: Path) -> str:
    """NEWSWATCH_TEST_DATABASE_URL, else the local server when it answers, else embedded PostgreSQL."""
    if os.environ.get("NEWSWATCH_TEST_DATABASE_URL"):
        return os.environ["NEWSWATCH_TEST_DATABASE_URL"]
    try:
        psycopg.connect(LOCAL_SERVER, connect_timeout=3).close()
        return LOCAL_SERVER
    except psycopg.OperationalError:
        url = db.embedded_url(tmp_root / "pgdata")
        return make_url(url).set(database="postgres").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_server(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The PostgreSQL server this test run creates its databases on."""
    return db.normalize_url(_server_url(tmp_path_factory.mktemp("pg")))


@contextmanager
def _new_database(server: str) -> Iterator[str]:
    """A new, empty database on `server`, dropped afterwards."""
    name = f"newswatch_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        for engine in list(db._engines.values()):
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(database_server: str) -> Iterator[str]:
    """A new database for this test run, migrated to head, dropped at the end."""
    with _new_database(database_server) as url:
        db.upgrade(url)
        yield url


@pytest.fixture
def empty_database_url(database_server: str) -> Iterator[str]:
    """A new database without any schema, for a test that migrates it itself; dropped after."""
    with _new_database(database_server) as url:
        yield url


# Every table but the secrets the migrations made once (a new table is emptied without a word).
TABLES = ", ".join(name for name in models.Base.metadata.tables if name != "secrets")


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Settings on an emptied test database, a private var/ folder and the repository config."""
    engine = db.get_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text(f"truncate {TABLES} restart identity cascade"))
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", database_url)
    monkeypatch.setenv("NEWSWATCH_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(REPO / "config"))
    monkeypatch.delenv("NEWSWATCH_SMTP_URL", raising=False)
    # Test servers live on loopback, which the SSRF guard refuses unless allowed;
    # politeness delays are tested on their own, not paid by every test.
    monkeypatch.setenv("NEWSWATCH_ALLOW_HOSTS", "127.0.0.1")
    monkeypatch.setenv("NEWSWATCH_PER_HOST_INTERVAL", "0")
    # Worker processes cost a second or two to start: one test runs the pipeline with them
    # (test_pipeline), the rest extract inline.
    monkeypatch.setenv("NEWSWATCH_EXTRACT_WORKERS", "1")
    yield get_settings()
    clock.freeze(None)


@pytest.fixture
def news_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[sample_day.SampleDay]:
    """The bundled sample news day on loopback, with NEWSWATCH_CONFIG_DIR pointing at its feeds."""
    with sample_day.serve() as day:
        config_dir = day.write_config(tmp_path / "config", REPO / "config" / "topics.yaml")
        monkeypatch.setenv("NEWSWATCH_CONFIG_DIR", str(config_dir))
        yield day


@dataclass
class Mailbox:
    """What a loopback SMTP server received, and which recipients it refuses."""

    host: str
    port: int
    received: list[Envelope] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.received.append(envelope)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


M = TypeVar("M", bound=Mailbox)


def serve_mailbox(box: M, monkeypatch: pytest.MonkeyPatch, smtputf8: bool = True) -> Iterator[M]:
    """Run a real SMTP server (aiosmtpd) for `box` on loopback, NEWSWATCH_SMTP_URL pointing at
    it, offering SMTPUTF8 or not."""
    controller = Controller(box, hostname=box.host, port=box.port, enable_SMTPUTF8=smtputf8)
    controller.start()
    monkeypatch.setenv("NEWSWATCH_SMTP_URL", box.url)
    yield box
    controller.stop()


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on loopback; NEWSWATCH_SMTP_URL points at it."""
    yield from serve_mailbox(Mailbox(host="127.0.0.1", port=free_port()), monkeypatch)


@pytest.fixture
def plain_smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    """The same without SMTPUTF8 (aiosmtpd offers it by default); NEWSWATCH_SMTP_URL points at it."""
    box = Mailbox(host="127.0.0.1", port=free_port())
    yield from serve_mailbox(box, monkeypatch, smtputf8=False)


@pytest.fixture(scope="session")
def airflow_db() -> str:
    """Airflow's SQLite metadata database in the throwaway AIRFLOW_HOME, migrated once per run."""
    subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        check=True,
        stdout=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    return _AIRFLOW_HOME


@pytest.fixture
def threaded_httpserver() -> Iterator[HTTPServer]:
    """A loopback server of the test's own that answers requests in parallel, so a handler that
    stalls on purpose (a slow drip, a silent feed) stalls no other request."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()
