"""Reconciliation of provisioning: what a crash or failure halfway left behind (docs/decisions/0023).

A portal is created in one transaction, so a crash there leaves nothing. What is not in one
transaction: building pool and template schemas (migrations commit one by one; the bookkeeping
row is written first, its fingerprint only at the end), dropping a deleted portal's schema, and
a signup whose creation failed (tracked on the Signup). The job finds each, completes or cleans
it up and writes one audit line per fix; the layers above add their part through
``tenants.signals.provisioning_reconcile_requested`` and ``provisioning_problems_requested``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import structlog
from django.db import connection
from django.utils import timezone

from tenants import audit, pool
from tenants.models import PoolSchema, TemplateSchema, Tenant
from tenants.signals import provisioning_problems_requested, provisioning_reconcile_requested

log = structlog.get_logger(__name__)

# Only schemas named by tenants.models.new_schema_name are ever considered ours to drop.
_OUR_SCHEMA = re.compile(r"^t_[0-9a-f]{12}$")


@dataclass(frozen=True)
class Problem:
    """One thing staff should know about; ``kind`` is stable, ``detail`` is for people."""

    kind: str
    subject: str
    detail: str
    since: datetime | None = None
    tenant_id: int | None = None


class Kind:
    HALF_BUILT = "half_built_schema"
    ORPHAN_SCHEMA = "orphan_schema"
    STALE_POOL = "stale_pool_schema"
    NO_TEMPLATE = "no_current_template"
    STUCK_SIGNUP = "stuck_signup"
    PORTAL_WITHOUT_MEMBERS = "portal_without_members"


def schemas_in_database() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%%'")
        return {row[0] for row in cursor.fetchall() if _OUR_SCHEMA.match(row[0])}


def orphan_schemas() -> set[str]:
    """Our schemas that no portal, pool row or template row owns."""
    known = set(Tenant.objects.values_list("schema_name", flat=True))
    known |= set(PoolSchema.objects.values_list("schema_name", flat=True))
    known |= set(TemplateSchema.objects.values_list("schema_name", flat=True))
    return schemas_in_database() - known


def _drop(schema_name: str) -> None:
    if not _OUR_SCHEMA.match(schema_name):
        raise ValueError(f"refusing to drop {schema_name!r}")
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')


def clean_half_built() -> list[str]:
    """Pool/template rows a killed builder left without a fingerprint, and schemas nothing owns.

    Only while no builder runs (the build lock is free), so a build in progress is never touched.
    """
    fixed: list[str] = []
    with pool.build_lock(wait=False) as free:
        if not free:
            return fixed
        for model in (PoolSchema, TemplateSchema):
            for entry in model.objects.filter(fingerprint=""):
                _drop(entry.schema_name)
                entry.delete()
                audit.record(action="provisioning.half_built_schema_dropped", schema=entry.schema_name,
                             kind=model.__name__, created_at=entry.created_at.isoformat())
                fixed.append(entry.schema_name)
        for schema_name in sorted(orphan_schemas()):
            _drop(schema_name)
            audit.record(action="provisioning.orphan_schema_dropped", schema=schema_name)
            fixed.append(schema_name)
    return fixed


def forget_claimed_without_portal() -> int:
    """Claimed pool rows whose portal is gone (deleted portals drop their schema); bookkeeping only."""
    live = Tenant.objects.values("schema_name")
    deleted, _details = PoolSchema.objects.filter(claimed_at__isnull=False).exclude(schema_name__in=live).delete()
    return deleted


def reconcile() -> list[str]:
    """Everything the job does; returns a line per fix (also in the audit log)."""
    fixes = clean_half_built()
    forget_claimed_without_portal()
    for _receiver, answer in provisioning_reconcile_requested.send(sender=Tenant):
        fixes += list(answer or [])
    if fixes:
        log.warning("provisioning.reconciled", fixes=fixes)
    return fixes


# --- What staff see ------------------------------------------------------------------------------

def problems() -> list[Problem]:
    """Every provisioning problem right now, oldest first (tenants.selectors.provisioning_problems)."""
    from django.utils.translation import gettext as _

    found: list[Problem] = []
    for model in (PoolSchema, TemplateSchema):
        for entry in model.objects.filter(fingerprint=""):
            found.append(Problem(Kind.HALF_BUILT, entry.schema_name, _(
                "A schema whose building did not finish (the job drops it unless it is being built now)."),
                since=entry.created_at))
    for schema_name in sorted(orphan_schemas()):
        found.append(Problem(Kind.ORPHAN_SCHEMA, schema_name, _(
            "A schema that belongs to no portal (the job drops it).")))
    fingerprint = pool.migration_fingerprint()
    stale = PoolSchema.objects.filter(claimed_at__isnull=True).exclude(fingerprint="").exclude(fingerprint=fingerprint)
    for entry in stale:
        found.append(Problem(Kind.STALE_POOL, entry.schema_name, _(
            "A waiting schema built at an older migration state (never handed out; the job migrates it)."),
            since=entry.created_at))
    if TemplateSchema.objects.filter(fingerprint=fingerprint).exclude(signature="").first() is None:
        found.append(Problem(Kind.NO_TEMPLATE, "", _(
            "No template schema at the current migration state: with an empty pool new portals are "
            "migrated (slow) until the job builds it.")))
    for _receiver, answer in provisioning_problems_requested.send(sender=Tenant):
        found += list(answer or [])
    epoch = timezone.now().replace(year=2000)
    return sorted(found, key=lambda problem: problem.since or epoch)
