"""Helpers shared by the benchmarks in bench/ (run one with ``bench/run NAME``).

A benchmark is a script that does::

    import _harness

    with _harness.session("name") as bench:   # environment, database, django.setup()
        ...                                   # measure, print tables with bench.table()
        bench.result(key=value, ...)          # printed as the very last line, after cleanup

``session`` sets the environment up (KOMPAS_ENV=test, BASE_DOMAIN=kompas.test, a cache key
prefix and broker namespace of the benchmarks' own), starts the embedded PostgreSQL when
DATABASE_URL is unset, points DATABASE_URL at a database of the benchmarks' own
(``kompas_bench``, created when missing) so the developer's data is never touched, and calls
django.setup(). On the way out it stops the embedded PostgreSQL, then prints
``RESULT <name> key=value ...`` as the last line of the output.
"""

from __future__ import annotations

import math
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

BENCH_DATABASE_NAME = "kompas_bench"


# --- output -----------------------------------------------------------------------------------

def out(text: str = "") -> None:
    """Print to stdout at once, so the lines interleave correctly with log lines on stderr."""
    print(text, flush=True)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0–100), interpolating linearly between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "  ") -> str:
    """An aligned plain-text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))]
        return (indent + "   ".join(parts)).rstrip()

    rule = indent + "   ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def format_value(value: object) -> str:
    """A RESULT value: no spaces, floats with a sensible number of digits."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return str(round(value, 3))
    text = str(value)
    if not text or any(c.isspace() or c == "=" for c in text):
        raise ValueError(f"RESULT value {text!r} must be non-empty, without spaces or '='")
    return text


def result_line(name: str, metrics: dict[str, object]) -> str:
    for key in metrics:
        if not key.replace("_", "").isalnum():
            raise ValueError(f"RESULT key {key!r} must be letters, digits and underscores")
    return " ".join(["RESULT", name, *(f"{key}={format_value(value)}" for key, value in metrics.items())])


# --- environment ------------------------------------------------------------------------------

def with_database_name(url: str, name: str) -> str:
    """The same DATABASE_URL with another database name (host, credentials and options kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def describe_database_url(url: str) -> str:
    """host:port/db without the password, for the report header."""
    import dj_database_url

    config = dj_database_url.parse(url)
    host = config.get("HOST") or "localhost"
    port = f":{config['PORT']}" if config.get("PORT") else ""
    return f"{config.get('USER') or ''}@{host}{port}/{config['NAME']}"


def create_database_if_missing(url: str) -> bool:
    """Create the database DATABASE_URL names, connecting to the server's `postgres` database."""
    import dj_database_url
    import psycopg
    from psycopg import sql

    config = dj_database_url.parse(url)
    params = {"dbname": "postgres", "user": config.get("USER") or None, "password": config.get("PASSWORD") or None,
              "host": config.get("HOST") or None, "port": config.get("PORT") or None}
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None}, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
        return True


def _exit_on_sigterm() -> None:
    """SIGTERM/SIGHUP unwind like Ctrl-C does, so the embedded PostgreSQL is always stopped."""
    def _exit(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _exit)


@dataclass
class Session:
    name: str
    database: str = ""
    database_created: bool = False
    metrics: dict[str, object] = field(default_factory=dict)

    def result(self, **metrics: object) -> None:
        """Record the metrics of the RESULT line (printed last, once everything is stopped)."""
        result_line(self.name, metrics)  # validate now, while the benchmark can still say why
        self.metrics = metrics

    @staticmethod
    def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        out(format_table(headers, rows))


@contextmanager
def session(name: str, *, database_name: str | None = None) -> Iterator[Session]:
    """Environment, embedded PostgreSQL if needed, the benchmark database, django.setup()."""
    os.environ.setdefault("KOMPAS_ENV", "test")
    os.environ.setdefault("BASE_DOMAIN", "kompas.test")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kompas.settings")
    # Keys and queues of their own, so a shared Redis never mixes benchmark and test/dev entries.
    os.environ.setdefault("CACHE_KEY_PREFIX", "kompas-bench")
    os.environ.setdefault("DRAMATIQ_NAMESPACE", "kompas-bench")
    _exit_on_sigterm()

    from kompas.cli import start_embedded_database_if_needed

    bench = Session(name=name)
    embedded = start_embedded_database_if_needed()
    try:
        database_name = database_name or os.environ.get("BENCH_DATABASE_NAME") or BENCH_DATABASE_NAME
        url = with_database_name(os.environ["DATABASE_URL"], database_name)
        os.environ["DATABASE_URL"] = url
        bench.database_created = create_database_if_missing(url)
        where = "embedded PostgreSQL" if embedded is not None else describe_database_url(url)
        bench.database = f"{where}, database {database_name}" if embedded is not None else where

        import django

        django.setup()
        yield bench
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            with suppress(Exception):  # settings may have failed to load; keep that error
                connections.close_all()
        if embedded is not None:
            embedded.stop()
    if bench.metrics:
        sys.stderr.flush()
        out(result_line(name, bench.metrics))
