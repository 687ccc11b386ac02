"""Scale-out check: news_monitor under the CeleryExecutor with two workers, against one process.

Serves a generated news web (bench/newsweb.py) on 127.0.0.1 and lists its feeds under two host
names that resolve there (127.0.0.1 and localhost), so feed_batches makes one batch per host.
Starts a throwaway Airflow (metadata in a fresh PostgreSQL database, broker on an empty Redis
database at 127.0.0.1): api-server, scheduler, dag-processor and two Celery workers, each
with its own NEWSWATCH_WORKER_NAME. Triggers news_monitor, reads from the REST API which worker
ran each mapped process_feeds (the `worker` of its XCom), then runs the same pipeline in this
process (pipeline.run_once) on another fresh news database against the same web and compares
what was stored. Exits 1 unless the batches ran on both workers and the stores are equal.
Every process it started is stopped and every database it made is dropped, also on failure.

    .venv/bin/python bench/scaleout.py [--feeds 20] [--articles 200] [--shards 4] [--extract-workers 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import redis
from benchdb import scratch_database
from newsweb import generate, serve
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from newswatch import pipeline
from newswatch.settings import get_settings

REPO = Path(__file__).resolve().parents[1]  # the checkout this benchmark belongs to

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
HOSTS = ("127.0.0.1", "localhost")  # two names for the one loopback server: two feed batches
WORKERS = ("worker-a", "worker-b")
DAG = "news_monitor"
USER = "bench"
STORED_TABLES = ("articles", "article_sources", "stories", "matches", "alerts")


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def processes() -> Iterator[list[Proc]]:
    """Processes started into the list are stopped on exit: SIGTERM to each, then SIGKILL to
    what is left of its process group (api-server and Celery pool children)."""
    started: list[Proc] = []
    try:
        yield started
    finally:
        for proc in reversed(started):
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in started:
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.popen.wait()


def start(started: list[Proc], name: str, args: list[str], env: dict[str, str], logs: Path) -> Proc:
    log = logs / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [AIRFLOW, *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so its children stop with it
        )
    proc = Proc(name, popen, log)
    started.append(proc)
    return proc


def wait_for(what: str, check: Any, procs: list[Proc], timeout: float) -> Any:
    """Poll check() until it returns something truthy; fail early when a process has died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.popen.poll() is not None:
                raise RuntimeError(
                    f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}"
                )
        try:
            result = check()
        except httpx.TransportError:
            result = None
        if result:
            return result
        time.sleep(1)
    tails = "\n".join(f"--- {p.name}\n{p.tail(15)}" for p in procs)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}\n{tails}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loopback_only(host: str) -> bool:
    return {info[4][0] for info in socket.getaddrinfo(host, None)} == {"127.0.0.1"}


@contextmanager
def redis_database() -> Iterator[str]:
    """The broker URL of the highest-numbered empty Redis database, flushed afterwards."""
    for number in range(15, 0, -1):
        client = redis.Redis(host="127.0.0.1", port=6379, db=number)
        if client.dbsize() == 0:
            break
    else:
        raise RuntimeError("no empty Redis database on 127.0.0.1:6379")
    try:
        yield f"redis://127.0.0.1:6379/{number}"
    finally:
        client.flushdb()
        client.close()


def write_config(config: Path, base: str, feeds: int) -> None:
    """feeds.yaml with feed k on HOSTS[k % 2]; topics.yaml from the project's config."""
    port = urlsplit(base).port
    lines = "".join(
        f"  - {{name: 'Site {k}', url: 'http://{HOSTS[k % len(HOSTS)]}:{port}/feed/{k}'}}\n"
        for k in range(feeds)
    )
    config.mkdir()
    (config / "feeds.yaml").write_text("feeds:\n" + lines)
    (config / "topics.yaml").write_text((REPO / "config" / "topics.yaml").read_text())


def airflow_env(home: Path, metadata_url: str, broker: str, port: int) -> dict[str, str]:
    passwords = home / "passwords.json"
    password = secrets.token_urlsafe(12)
    passwords.write_text(json.dumps({USER: password}))
    metadata = make_url(metadata_url)
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata.set(
            drivername="postgresql+psycopg2"
        ).render_as_string(hide_password=False),
        "AIRFLOW__CELERY__BROKER_URL": broker,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+"
        + metadata.set(drivername="postgresql").render_as_string(hide_password=False),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        # Workers and the API server sign and check task tokens with the same secret.
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple."
        "simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        # Only the run this script triggers: unpausing must not start the @daily schedule.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }


def newswatch_env(url: str, config: Path, var: Path, shards: int) -> dict[str, str]:
    return {
        "NEWSWATCH_DATABASE_URL": url,
        "NEWSWATCH_CONFIG_DIR": str(config),
        "NEWSWATCH_VAR_DIR": str(var),  # the outbox is var/outbox
        "NEWSWATCH_ALLOW_HOSTS": ",".join(HOSTS),
        # One loopback server stands for many sites: pace per site, not per address.
        "NEWSWATCH_PER_HOST_INTERVAL": "0",
        "NEWSWATCH_FEED_SHARDS": str(shards),
    }


class Api:
    """The api-server's REST API v2 with a token from the simple auth manager."""

    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=30)

    def login(self, password: str) -> None:
        reply = self.client.post("/auth/token", json={"username": USER, "password": password})
        reply.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"

    def get(self, path: str, **params: Any) -> Any:
        reply = self.client.get(f"/api/v2{path}", params=params)
        reply.raise_for_status()
        return reply.json()

    def found(self, path: str) -> bool:
        return self.client.get(f"/api/v2{path}").status_code == 200


def run_on_celery(
    args: argparse.Namespace, env: dict[str, str], home: Path, port: int
) -> tuple[list[dict[str, Any]], float]:
    """Start Airflow with two Celery workers, run news_monitor once; its process_feeds rows."""
    logs = home / "process-logs"
    logs.mkdir()
    migrate = subprocess.run(
        [AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, check=False
    )
    if migrate.returncode:
        raise RuntimeError(
            f"airflow db migrate failed:\n{migrate.stdout[-3000:]}{migrate.stderr[-3000:]}"
        )
    subprocess.run(
        [AIRFLOW, "pools", "set", "newswatch_sites", str(args.shards), "site-facing tasks"],
        env=env,
        capture_output=True,
        check=True,
    )
    with processes() as procs:
        start(
            procs,
            "api-server",
            ["api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            env,
            logs,
        )
        start(procs, "scheduler", ["scheduler"], env, logs)
        start(procs, "dag-processor", ["dag-processor"], env, logs)
        workers = [
            start(
                procs,
                name,
                ["celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "1"]
                + ["--skip-serve-logs"],  # two workers on one host would share its port
                {**env, "NEWSWATCH_WORKER_NAME": name},
                logs,
            )
            for name in WORKERS
        ]
        api = Api(f"http://127.0.0.1:{port}")
        wait_for(
            "the api-server",
            lambda: api.client.get("/api/v2/monitor/health").status_code == 200,
            procs,
            120,
        )
        password = json.loads((home / "passwords.json").read_text())[USER]
        api.login(password)
        wait_for(f"{DAG} to be parsed", lambda: api.found(f"/dags/{DAG}"), procs, 180)
        for proc in workers:
            wait_for(
                f"{proc.name} to be ready", lambda p=proc: " ready." in p.tail(200), procs, 120
            )
        api.client.patch(f"/api/v2/dags/{DAG}", json={"is_paused": False}).raise_for_status()
        started = time.perf_counter()
        reply = api.client.post(f"/api/v2/dags/{DAG}/dagRuns", json={"logical_date": None})
        reply.raise_for_status()
        run_id = reply.json()["dag_run_id"]
        run = f"/dags/{DAG}/dagRuns/{run_id}"
        state = wait_for(f"DAG run {run_id}", lambda: finished(api, run, home), procs, args.timeout)
        seconds = time.perf_counter() - started
        if state != "success":
            raise RuntimeError(f"DAG run {run_id}: {state}")
        instances = api.get(f"{run}/taskInstances", limit=1000)["task_instances"]
        rows = []
        for ti in sorted(
            (t for t in instances if t["task_id"] == "process_feeds"), key=lambda t: t["map_index"]
        ):
            entry = api.get(
                f"{run}/taskInstances/process_feeds/xcomEntries/return_value",
                map_index=ti["map_index"],
                deserialize=True,
            )
            value = entry["value"]
            rows.append({**(json.loads(value) if isinstance(value, str) else value), "ti": ti})
        return rows, seconds


def finished(api: Api, run: str, home: Path) -> str | None:
    """The run's final state, or None while it runs; fails at a task's first failed attempt
    (news_monitor retries with backoff: minutes spent learning nothing), with its error."""
    state = str(api.get(run)["state"])
    if state in ("success", "failed"):
        return state
    for ti in api.get(f"{run}/taskInstances", limit=1000)["task_instances"]:
        if ti["state"] in ("up_for_retry", "failed"):
            logs = (home / "logs").rglob(f"task_id={ti['task_id']}/**/attempt=*.log")
            raise RuntimeError(
                f"{ti['task_id']}[{ti['map_index']}] {ti['state']}:\n"
                + "\n".join(line for log in logs for line in error_lines(log)[-60:])
            )
    return None


def error_lines(log: Path) -> list[str]:
    """The text of a task log's error events: tracebacks, and what the task wrote to stderr."""
    lines = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("level") == "error":
            lines.append(str(event.get("event")))
            for exc in event.get("exception") or []:
                lines.append(f"{exc.get('exc_type')}: {exc.get('exc_value')}")
    return lines


def stored(url: str) -> dict[str, Any]:
    """What a news database holds: row counts, article URLs, alerts by state, bytes per table."""
    engine = create_engine(url)
    with engine.connect() as conn:
        counts = {t: conn.scalar(text(f"select count(*) from {t}")) for t in STORED_TABLES}
        size = {
            t: conn.scalar(text("select pg_total_relation_size(:t)"), {"t": t})
            for t in STORED_TABLES
        }
        urls = set(conn.scalars(text("select url from articles")))
        alerts = dict(conn.execute(text("select state, count(*) from alerts group by 1")).all())
        feeds = dict(conn.execute(text("select id, url from feeds")).all())
    engine.dispose()
    return {"counts": counts, "bytes": size, "urls": urls, "alerts": alerts, "feeds": feeds}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--shards", type=int, default=4, help="NEWSWATCH_FEED_SHARDS")
    parser.add_argument("--timeout", type=float, default=900, help="seconds the DAG run may take")
    parser.add_argument(
        "--extract-workers",
        type=int,
        default=2,
        help="NEWSWATCH_EXTRACT_WORKERS of the Celery workers (default 2, as deployed; on a "
        "daemonic prefork worker extraction falls back to inline, docs/scaling.md)",
    )
    args = parser.parse_args()
    logging.getLogger("newswatch").setLevel(logging.ERROR)  # HTTP 500 pages are planned
    not_loopback = [host for host in HOSTS if not loopback_only(host)]
    if not_loopback:
        print(f"{not_loopback} must resolve to 127.0.0.1 only", file=sys.stderr)
        return 2
    web = generate(args.feeds, args.articles)
    server, base = serve(web)
    with ExitStack() as stack:
        stack.callback(server.shutdown)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="newswatch-scaleout-")))
        metadata_url = stack.enter_context(scratch_database())
        celery_url = stack.enter_context(scratch_database())
        single_url = stack.enter_context(scratch_database())
        broker = stack.enter_context(redis_database())
        write_config(tmp / "config", base, args.feeds)
        home = tmp / "airflow"
        home.mkdir()
        port = free_port()
        env = {
            **os.environ,
            **airflow_env(home, metadata_url, broker, port),
            **newswatch_env(celery_url, tmp / "config", tmp / "var-celery", args.shards),
            "NEWSWATCH_EXTRACT_WORKERS": str(args.extract_workers),
        }
        rows, celery_s = run_on_celery(args, env, home, port)

        # The same pipeline in this process; Airflow's env too, so no ~/airflow is touched.
        os.environ.update(env)
        os.environ.update(
            newswatch_env(single_url, tmp / "config", tmp / "var-single", args.shards)
        )
        os.environ.pop("NEWSWATCH_EXTRACT_WORKERS")  # the default: both cores
        started = time.perf_counter()
        summary = pipeline.run_once(get_settings()).to_xcom()
        single_s = time.perf_counter() - started
        on_celery, single = stored(celery_url), stored(single_url)
    single["durations"] = summary["durations"]
    return report(args, rows, on_celery, single, celery_s, single_s)


def report(
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    on_celery: dict[str, Any],
    single: dict[str, Any],
    celery_s: float,
    single_s: float,
) -> int:
    print(
        f"\nbench/scaleout.py --feeds {args.feeds} --articles {args.articles} --shards "
        f"{args.shards}: CeleryExecutor, {len(WORKERS)} workers (concurrency 1, extract_workers "
        f"{args.extract_workers}), "
        f"{os.cpu_count()} cores\n"
    )
    print("| batch | feeds | host | articles | worker | seconds | extract s |")
    print("|---:|---:|---|---:|---|---:|---:|")
    for row in rows:
        hosts = sorted({urlsplit(on_celery["feeds"][f]).hostname or "" for f in row["batch"]})
        print(
            f"| {row['ti']['map_index']} | {len(row['batch'])} | {', '.join(hosts)} "
            f"| {row['counts'].get('articles_new', 0)} | {row['worker']} "
            f"| {row['ti']['duration']:.1f} | {row['durations'].get('seconds_extract', 0):.1f} |"
        )
    workers = sorted({row["worker"] for row in rows})
    print(
        f"\nDAG run (trigger to success): {celery_s:.1f} s; single process run_once: {single_s:.1f} s"
    )
    print("\n| stored | celery | single process |")
    print("|---|---:|---:|")
    for table in STORED_TABLES:
        print(f"| {table} | {on_celery['counts'][table]} | {single['counts'][table]} |")
    print(f"| alerts by state | {on_celery['alerts']} | {single['alerts']} |")
    articles = max(1, on_celery["counts"]["articles"])
    per_article = {t: on_celery["bytes"][t] / articles for t in STORED_TABLES}
    print(
        "\nbytes per stored article (pg_total_relation_size / articles): "
        + ", ".join(f"{t} {b:,.0f}" for t, b in per_article.items())
        + f"; all {sum(per_article.values()):,.0f}"
    )
    stages = ", ".join(
        f"{k.removeprefix('seconds_')} {v:.1f}" for k, v in single["durations"].items()
    )
    print(f"single process, seconds per stage (extract: in worker processes): {stages}")
    celery_extract = sum(row["durations"].get("seconds_extract", 0) for row in rows)
    single_extract = single["durations"].get("seconds_extract", 0)
    print(
        f"extraction per article: {celery_extract / articles * 1000:.0f} ms on the Celery "
        f"workers ({args.extract_workers} extraction processes per task, both tasks at once), "
        f"{single_extract / articles * 1000:.0f} ms in the single run (2 processes)"
    )
    spread = len(workers) >= 2
    equal = (
        on_celery["counts"] == single["counts"]
        and on_celery["urls"] == single["urls"]
        and on_celery["alerts"] == single["alerts"]
    )
    print(
        f"\nbatches spread over {len(workers)} workers ({', '.join(workers)}): {'yes' if spread else 'no'}"
    )
    print(f"equal to single-worker run: {'yes' if equal else 'no'}")
    return 0 if spread and equal else 1


if __name__ == "__main__":
    sys.exit(main())
