"""Benchmark "provisioning": how long a new portal takes from the warm pool, by cloning the
template schema, and by migrating (docs/decisions/0011, 0023).

One run creates N portals each way (the whole `create_portal`: schema, domain, trial, owner and
membership) and prints p50/p95 of each and the ratios migrate / pool and migrate / clone. The
template and the pool are built before their timed runs (that is the job's work, off the
signup path). Each portal's path is checked: a portal that took another path than the one being
timed is counted as a miss. Every portal made here is deleted again, schema included.

    bench/run provisioning [--portals 10]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time

import _harness

# This script's folder holds bench/crm.py, which would shadow the crm package for django.setup().
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _HERE]

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


def _empty_pool_and_template() -> None:
    from tenants import reconcile, template
    from tenants.models import PoolSchema, TemplateSchema

    for entry in PoolSchema.objects.filter(claimed_at__isnull=True):
        reconcile._drop(entry.schema_name)
        entry.delete()
    for entry in TemplateSchema.objects.all():
        template.drop(entry)


def _timed(create_portal, label: str, portals: int, made: list) -> tuple[list[float], int]:
    times, misses = [], 0
    for _ in range(portals):
        elapsed, tenant = _create(create_portal, label)
        times.append(elapsed)
        misses += tenant.provisioning_path != label
        made.append(tenant)
    return times, misses


def run(bench, portals: int) -> None:
    from kompas.cli import migrate_all
    from kompas.provisioning import create_portal
    from tenants import pool

    migrate_all(verbosity=0)
    _empty_pool_and_template()  # migrate first: no pool, no template
    made: list = []
    try:
        by_migrate, missed_migrate = _timed(create_portal, "migrate", portals, made)
        started = time.perf_counter()
        pool.fill(size=0)  # the job builds the template
        template_ms = (time.perf_counter() - started) * 1000
        by_clone, missed_clone = _timed(create_portal, "clone", portals, made)
        started = time.perf_counter()
        pool.fill(size=portals)
        fill_ms = (time.perf_counter() - started) * 1000
        by_pool, missed_pool = _timed(create_portal, "pool", portals, made)
    finally:
        _delete(made)
        _empty_pool_and_template()

    p = _harness.percentile
    rows = [
        ["pool (signup path)", f"{p(by_pool, 50):.0f}", f"{p(by_pool, 95):.0f}", portals, missed_pool],
        ["clone (empty pool)", f"{p(by_clone, 50):.0f}", f"{p(by_clone, 95):.0f}", portals, missed_clone],
        ["migrate (last resort)", f"{p(by_migrate, 50):.0f}", f"{p(by_migrate, 95):.0f}", portals, missed_migrate],
    ]
    ratio = p(by_migrate, 50) / p(by_pool, 50)
    clone_ratio = p(by_migrate, 50) / p(by_clone, 50)
    _harness.out(f"Benchmark provisioning: a whole new portal, {portals} each way; database {bench.database}")
    _harness.out("  goal: p95 of the signup path <= 1000 ms, and >= 20x faster than migrating")
    bench.table(["path", "p50 ms", "p95 ms", "portals", "other path"], rows)
    _harness.out(f"  ratio p50 (migrate / pool)   {ratio:.1f}x")
    _harness.out(f"  ratio p50 (migrate / clone)  {clone_ratio:.1f}x")
    _harness.out(f"  building the template (job)  {template_ms:.0f} ms, off the signup path")
    _harness.out(f"  filling the pool (the job)   {fill_ms:.0f} ms for {portals} schemas, off the signup path")
    bench.result(pool_p50_ms=round(p(by_pool, 50)), pool_p95_ms=round(p(by_pool, 95)),
                 clone_p50_ms=round(p(by_clone, 50)), clone_p95_ms=round(p(by_clone, 95)),
                 migrate_p50_ms=round(p(by_migrate, 50)), migrate_p95_ms=round(p(by_migrate, 95)),
                 ratio_p50=round(ratio, 1), clone_ratio_p50=round(clone_ratio, 1), portals=portals,
                 misses=missed_pool + missed_clone + missed_migrate)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/run provisioning")
    parser.add_argument("--portals", type=int, default=10)
    args = parser.parse_args(argv)
    with _harness.session(NAME) as bench:
        run(bench, args.portals)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
