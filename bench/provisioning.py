"""Benchmark "provisioning": how long a new portal takes, from the warm pool vs by migrating.

One run creates N portals each way (the whole `create_portal`: schema, domain, trial, owner and
membership) and prints p50/p95 of each and the ratio migrate / pool. The pool is filled before
the timed pool runs (that is the job's work, off the signup path). Every portal made here is
deleted again, schema included. Cloning a template schema (the other fallback the control-plane
issue mentions) is not built yet, so it has no row.

    bench/run provisioning [--portals 10]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time

import _harness

NAME = "provisioning"


def _create(create_portal, label: str) -> tuple[float, object]:
    slug = f"bench-{label}-{secrets.token_hex(3)}"
    started = time.perf_counter()
    portal = create_portal(name=f"Bench {slug}", slug=slug, owner_email=f"owner@{slug}.example.pl",
                           owner_password="Bench-haslo-2026")
    return (time.perf_counter() - started) * 1000, portal.tenant


def _delete(tenants) -> None:
    from django.db import connection

    for tenant in tenants:
        connection.set_schema_to_public()
        tenant.delete(force_drop=True)


def run(bench, portals: int) -> None:
    from kompas.cli import migrate_all
    from kompas.provisioning import create_portal
    from tenants import pool
    from tenants.models import PoolSchema

    migrate_all(verbosity=0)
    PoolSchema.objects.filter(claimed_at__isnull=True).delete()  # start from an empty pool
    made, by_migrate, by_pool = [], [], []
    for _ in range(portals):
        elapsed, tenant = _create(create_portal, "migrate")
        by_migrate.append(elapsed)
        made.append(tenant)
    fill_started = time.perf_counter()
    pool.fill(size=portals)
    fill_ms = (time.perf_counter() - fill_started) * 1000
    for _ in range(portals):
        elapsed, tenant = _create(create_portal, "pool")
        by_pool.append(elapsed)
        made.append(tenant)
    _delete(made)

    p = _harness.percentile
    rows = [
        ["pool (signup path)", f"{p(by_pool, 50):.0f}", f"{p(by_pool, 95):.0f}", portals],
        ["migrate (fallback)", f"{p(by_migrate, 50):.0f}", f"{p(by_migrate, 95):.0f}", portals],
    ]
    ratio = p(by_migrate, 50) / p(by_pool, 50)
    _harness.out(f"Benchmark provisioning: a whole new portal, {portals} each way; database {bench.database}")
    _harness.out("  goal: p95 of the signup path <= 1000 ms, and >= 20x faster than migrating")
    bench.table(["path", "p50 ms", "p95 ms", "portals"], rows)
    _harness.out(f"  ratio p50 (migrate / pool)   {ratio:.1f}x")
    _harness.out(f"  filling the pool (the job)   {fill_ms:.0f} ms for {portals} schemas, off the signup path")
    bench.result(pool_p50_ms=round(p(by_pool, 50)), pool_p95_ms=round(p(by_pool, 95)),
                 migrate_p50_ms=round(p(by_migrate, 50)), migrate_p95_ms=round(p(by_migrate, 95)),
                 ratio_p50=round(ratio, 1), portals=portals)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/run provisioning")
    parser.add_argument("--portals", type=int, default=10)
    args = parser.parse_args(argv)
    with _harness.session(NAME) as bench:
        run(bench, args.portals)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
