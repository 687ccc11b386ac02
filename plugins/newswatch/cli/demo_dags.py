"""`make demo`'s Airflow half in one process: migrate the throwaway metadata database, then run
news_monitor and news_digest once each, as `airflow db migrate` and `airflow dags test` do.

One process imports Airflow once; three `airflow` commands took about 4 s each to start.
Run by demo.py with the demo's Airflow environment: `python -m newswatch.cli.demo_dags AT`,
AT the end of the digest period. The exit status is the first failed DAG run's, else 0.
"""

from __future__ import annotations

import contextlib
import io
import sys
from typing import Any


def main(digest_at: str) -> int:
    from airflow.cli.cli_parser import get_parser

    parser = get_parser()
    with contextlib.redirect_stdout(io.StringIO()):  # the migration's progress, of no interest
        _run(parser, ["db", "migrate"], check=True)
    print("running news_monitor once …", flush=True)
    monitor = _run(parser, ["dags", "test", "news_monitor"])
    print(
        f"running news_digest for the period ending {digest_at} (the next scheduled digest) …",
        flush=True,
    )
    digest = _run(parser, ["dags", "test", "news_digest", digest_at])
    return monitor or digest


def _run(parser: Any, argv: list[str], check: bool = False) -> int:
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except SystemExit as exc:  # `dags test` says a failed run this way
        if check:
            raise
        return exc.code if isinstance(exc.code, int) and exc.code else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
