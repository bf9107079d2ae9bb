"""Benchmark "routing": what tenancy costs a request once the host → portal lookup is cached.

One process, two WSGI handlers, the same tiny page (bench/_routing_urls.py, no database query):

* tenancy — the production middleware stack (settings.MIDDLEWARE) with TenantRoutingMiddleware,
  requested on a portal host, so the portal comes from the routing cache and the schema is set;
* plain   — the same Django without tenancy: settings.MIDDLEWARE minus the tenancy middleware
  (``--plain django``, the default), or no middleware at all (``--plain bare``).

Requests alternate between the two paths (ABBA order) so drift hits both alike. Queries are
counted per request on a separate sample; the warm tenancy path must make none.

    bench/run routing [--requests 3000] [--warmup 300] [--query-sample 200] [--plain django|bare] [--check]
"""

from __future__ import annotations

import argparse
import gc
import io
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import _harness

NAME = "routing"
PORTAL_SLUG = "benchportal"
BENCH_URLCONF = "_routing_urls"
ROUTING_MIDDLEWARE = "tenants.routing.TenantRoutingMiddleware"
# Middleware that only exists because of tenancy: dropped from the plain path.
TENANCY_MIDDLEWARE_PREFIXES = ("tenants.", "identity.members.")
GOAL_OVERHEAD_MS = 0.3
GOAL_QUERIES = 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run routing", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="timed requests per path (default 3000)")
    parser.add_argument("--warmup", type=int, default=300, help="untimed requests per path first (default 300)")
    parser.add_argument("--query-sample", type=int, default=200,
                        help="requests per path whose queries are counted (default 200)")
    parser.add_argument("--plain", choices=["django", "bare"], default="django",
                        help="plain path middleware: settings.MIDDLEWARE without tenancy (django, default) "
                             "or none at all (bare)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.warmup < 0 or args.query_sample < 1:
        parser.error("--requests and --query-sample must be at least 1, --warmup at least 0")
    return args


# --- requests ---------------------------------------------------------------------------------

_last_status: list[str] = []


def _start_response(status: str, headers: list, exc_info=None) -> None:
    _last_status.append(status)


def base_environ(host: str, path: str) -> dict:
    """A WSGI environ as a server builds it for `GET path` on `host` (wsgi.input added per request)."""
    return {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
        "SERVER_NAME": host, "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": host, "HTTP_ACCEPT": "text/html,application/xhtml+xml,*/*;q=0.8",
        "HTTP_ACCEPT_LANGUAGE": "pl-PL,pl;q=0.9,en;q=0.8", "HTTP_USER_AGENT": "kompas-bench/1",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }


def fresh(environ: dict) -> dict:
    # Middleware writes into request.META, which is the environ: every request gets its own copy.
    copy = environ.copy()
    copy["wsgi.input"] = io.BytesIO(b"")
    return copy


@dataclass
class Target:
    name: str
    handler: object
    environ: dict

    def request(self) -> tuple[str, bytes]:
        """One request, as a WSGI server makes it: call, read the body, close (request_finished)."""
        response = self.handler(fresh(self.environ), _start_response)
        body = b"".join(response)
        response.close()
        return _last_status.pop(), body


def count_queries(path: Target, requests: int) -> tuple[float, list[str]]:
    """Queries per request over `requests` requests, and the SQL of the first few seen."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    total, seen = 0, []
    for _ in range(requests):
        # request_started empties connection.queries_log, which CaptureQueriesContext indexes
        # into; starting each capture from an empty log keeps its slice right.
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            status, _body = path.request()
        if not status.startswith("200"):
            raise RuntimeError(f"{path.name}: {status} while counting queries")
        total += len(captured.captured_queries)
        seen += [q["sql"] for q in captured.captured_queries][: max(0, 5 - len(seen))]
    return total / requests, seen


def time_paths(a: Target, b: Target, requests: int) -> dict[str, list[float]]:
    """Microseconds per request for each path, in ABBA order so neither always goes first."""
    samples: dict[str, list[float]] = {a.name: [], b.name: []}
    clock = time.perf_counter_ns
    gc.collect()
    for i in range(requests):
        for path in (a, b) if i % 2 == 0 else (b, a):
            environ = fresh(path.environ)
            started = clock()
            response = path.handler(environ, _start_response)
            body = b"".join(response)
            response.close()
            elapsed = clock() - started
            status = _last_status.pop()
            if status != "200 OK" or not body:
                raise RuntimeError(f"{path.name}: request {i} answered {status}")
            samples[path.name].append(elapsed / 1000)
    return samples


# --- setup ------------------------------------------------------------------------------------

def ensure_bench_portal(host: str):
    """Migrate the benchmark database and create the bench portal once."""
    from kompas.cli import migrate_all
    from kompas.provisioning import create_portal
    from tenants.models import Domain, Tenant

    migrate_all(verbosity=0)
    tenant = Tenant.objects.filter(slug=PORTAL_SLUG).first()
    created = tenant is None
    if created:
        tenant = create_portal(name="Bench Portal", slug=PORTAL_SLUG, owner_email="bench-owner@example.com",
                               owner_name="Bench Owner").tenant
    # The portal may come from a run with another BASE_DOMAIN: make sure this host routes to it.
    Domain.objects.get_or_create(domain=host, defaults={"tenant": tenant, "is_primary": False})
    return tenant, created


def build_handler(middleware: list[str] | None = None):
    """A WSGIHandler whose middleware chain is built from `middleware` (settings.MIDDLEWARE if None)."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    if middleware is None:
        return WSGIHandler()
    # The chain is built once, in __init__; calling the handler later does not read MIDDLEWARE.
    with override_settings(MIDDLEWARE=middleware):
        return WSGIHandler()


def describe_cache(alias: str) -> tuple[str, str]:
    from django.conf import settings
    from django.core.cache import caches

    backend = type(caches[alias]).__name__
    location = settings.CACHES[alias].get("LOCATION", "")
    if backend == "RedisCache":
        parts = urlsplit(str(location))
        netloc = parts.hostname or ""
        netloc += f":{parts.port}" if parts.port else ""
        where = urlunsplit(parts._replace(netloc=netloc))
        return "redis", f"RedisCache at {where} behind the in-process host memory (LOCAL_TTL)"
    if backend == "LocMemCache":
        return "locmem", "LocMemCache behind the in-process host memory (LOCAL_TTL)"
    return backend.lower(), backend


def summarise(values: list[float]) -> dict[str, float]:
    return {"p50": _harness.percentile(values, 50), "p95": _harness.percentile(values, 95),
            "mean": statistics.fmean(values)}


# --- the benchmark ----------------------------------------------------------------------------

def run(bench: _harness.Session, args: argparse.Namespace) -> bool:
    import _routing_urls
    import django
    from django.conf import settings
    from django.test.utils import override_settings

    from tenants.routing import forget_hosts

    host = f"{PORTAL_SLUG}.{settings.BASE_DOMAIN}"
    tenant, created = ensure_bench_portal(host)

    if ROUTING_MIDDLEWARE not in settings.MIDDLEWARE:
        raise RuntimeError(f"settings.MIDDLEWARE has no {ROUTING_MIDDLEWARE}: nothing to measure")
    tenancy_middleware = list(settings.MIDDLEWARE)
    if args.plain == "bare":
        plain_middleware: list[str] = []
        plain_label = "no middleware at all"
    else:
        plain_middleware = [m for m in tenancy_middleware if not m.startswith(TENANCY_MIDDLEWARE_PREFIXES)]
        plain_label = "settings.MIDDLEWARE without " + ", ".join(f"{p}*" for p in TENANCY_MIDDLEWARE_PREFIXES)
    dropped = [m.rsplit(".", 1)[1] for m in tenancy_middleware if m not in plain_middleware]
    left_out = f"all {len(dropped)}" if not plain_middleware else ", ".join(dropped) or "nothing"
    cache_key, cache_label = describe_cache("routing")

    # Portal hosts resolve against ROOT_URLCONF (only the public tenant gets PUBLIC_SCHEMA_URLCONF),
    # so one override puts the same bench page behind both handlers.
    with override_settings(ROOT_URLCONF=BENCH_URLCONF):
        tenancy = Target("tenancy", build_handler(), base_environ(host, _routing_urls.PATH))
        plain = Target("plain", build_handler(plain_middleware), base_environ(host, _routing_urls.PATH))

        # Cold: the first request after the host is forgotten looks the portal up in the database.
        forget_hosts([host])
        cold_queries, cold_sql = count_queries(tenancy, 1)

        # Both paths answer 200 with the same page; only the tenancy one saw the portal.
        tenancy_status, tenancy_body = tenancy.request()
        seen_tenant = _routing_urls.last_seen.get("tenant")
        plain_status, plain_body = plain.request()
        plain_seen_tenant = _routing_urls.last_seen.get("tenant")
        checks = {
            "tenancy answers 200": tenancy_status == "200 OK",
            "plain answers 200": plain_status == "200 OK",
            "same body on both paths": tenancy_body == plain_body == _routing_urls.BODY,
            "tenancy request routed to the bench portal":
                getattr(seen_tenant, "schema_name", None) == tenant.schema_name,
            "plain request saw no tenant": plain_seen_tenant is None,
        }
        failed = [name for name, ok in checks.items() if not ok]
        if failed:
            raise RuntimeError(f"sanity checks failed: {', '.join(failed)} "
                               f"(tenancy {tenancy_status}, plain {plain_status})")

        for _ in range(args.warmup):
            tenancy.request()
            plain.request()
        tenancy_queries, tenancy_sql = count_queries(tenancy, args.query_sample)
        plain_queries, plain_sql = count_queries(plain, args.query_sample)

        samples = time_paths(tenancy, plain, args.requests)

    stats = {name: summarise(values) for name, values in samples.items()}
    overhead_ms = (stats["tenancy"]["p50"] - stats["plain"]["p50"]) / 1000
    ratio = stats["tenancy"]["p50"] / stats["plain"]["p50"]
    overhead_ok = overhead_ms <= GOAL_OVERHEAD_MS
    queries_ok = tenancy_queries <= GOAL_QUERIES

    out = _harness.out
    out(f"Benchmark {NAME}: one tiny page through the tenancy stack vs plain Django, in one process")
    out(f"  python / django   {platform.python_implementation()} {platform.python_version()}, "
        f"Django {django.get_version()}, KOMPAS_ENV={settings.KOMPAS_ENV}, DEBUG={settings.DEBUG}")
    out(f"  database          {bench.database}"
        + (" (created now)" if bench.database_created else ""))
    out(f"  routing cache     {cache_label}")
    out(f"  portal            {host} -> schema {tenant.schema_name}" + (" (created now)" if created else ""))
    out(f"  page              GET {_routing_urls.PATH} -> 200, {len(tenancy_body)} bytes, same body on both paths")
    out(f"  tenancy path      settings.MIDDLEWARE ({len(tenancy_middleware)} middleware), routing cache warm")
    out(f"  plain path        {plain_label} ({len(plain_middleware)} middleware; "
        f"left out: {left_out})")
    out(f"  requests          {args.requests} timed per path, alternating ABBA, after {args.warmup} warm-up "
        f"per path; queries counted over {args.query_sample} more per path")
    out()
    out(f"  goal: tenancy overhead <= {GOAL_OVERHEAD_MS} ms at p50 and {GOAL_QUERIES} queries per warm request")
    rows = []
    for name, queries in (("tenancy", tenancy_queries), ("plain", plain_queries)):
        s = stats[name]
        rows.append([name, f"{s['p50']:.1f}", f"{s['p95']:.1f}", f"{s['mean']:.1f}", f"{queries:g}"])
    bench.table(["path", "p50 µs", "p95 µs", "mean µs", "queries/request"], rows)
    out()
    verdict = {True: "met", False: "MISSED"}
    out(f"  overhead p50 (tenancy - plain)  {overhead_ms:.3f} ms   goal <= {GOAL_OVERHEAD_MS} ms: "
        f"{verdict[overhead_ok]}")
    out(f"  ratio p50 (tenancy / plain)     {ratio:.2f}x")
    out(f"  queries, warm tenancy request   {tenancy_queries:g}   goal {GOAL_QUERIES}: {verdict[queries_ok]}")
    for label, sql in (("tenancy", tenancy_sql), ("plain", plain_sql)):
        for statement in sql:
            out(f"    {label}: {statement[:150]}")
    out(f"  queries, cold tenancy request   {cold_queries:g}   (routing cache miss, not timed; "
        "the answer is cached for the next requests)")
    for statement in cold_sql:
        out(f"    cold: {statement[:150]}")

    bench.result(
        tenancy_p50_us=round(stats["tenancy"]["p50"], 1), tenancy_p95_us=round(stats["tenancy"]["p95"], 1),
        tenancy_mean_us=round(stats["tenancy"]["mean"], 1),
        plain_p50_us=round(stats["plain"]["p50"], 1), plain_p95_us=round(stats["plain"]["p95"], 1),
        plain_mean_us=round(stats["plain"]["mean"], 1),
        overhead_p50_ms=round(overhead_ms, 3), ratio_p50=round(ratio, 2),
        queries_per_request=tenancy_queries, cold_queries=cold_queries,
        requests=args.requests, cache=cache_key, plain=args.plain,
        goals_met=overhead_ok and queries_ok,
    )
    return overhead_ok and queries_ok


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    with _harness.session(NAME) as bench:
        goals_met = run(bench, args)
    return 0 if goals_met or not args.check else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
