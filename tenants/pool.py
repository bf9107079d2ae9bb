"""The warm pool of pre-migrated portal schemas (control-plane issue, provisioning).

A job keeps ``POOL_SIZE`` schemas ready; creating a portal claims one with ``SKIP LOCKED`` inside
the portal's own transaction (a rollback returns it to the pool) and falls back to migrating a
new schema when the pool is empty. Schemas built at an older migration state are brought up to
date before anyone can claim them, so a stale schema is never handed out.
"""

from __future__ import annotations

import hashlib

import structlog
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from tenants.models import PoolSchema, new_schema_name

log = structlog.get_logger(__name__)
POOL_SIZE = getattr(settings, "TENANT_POOL_SIZE", 5)


def migration_fingerprint() -> str:
    """A hash of the latest migration of every per-portal app: it changes with any new migration."""
    from django.apps import apps

    labels = {config.label for config in apps.get_app_configs() if config.name in settings.TENANT_APPS}
    loader = MigrationLoader(None, ignore_no_migrations=True)
    leaves = sorted(f"{app}.{name}" for app, name in loader.graph.leaf_nodes() if app in labels)
    return hashlib.sha256("|".join(leaves).encode()).hexdigest()[:32]


def _migrate(schema_name: str) -> None:
    call_command("migrate_schemas", tenant=True, schema_name=schema_name, interactive=False, verbosity=0)
    connection.set_schema_to_public()


def build_one(fingerprint: str) -> PoolSchema:
    schema_name = new_schema_name()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema_name}"')
    try:
        _migrate(schema_name)
    except Exception:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')
        raise
    return PoolSchema.objects.create(schema_name=schema_name, fingerprint=fingerprint)


def refresh_stale(fingerprint: str) -> int:
    """Bring schemas built at an older migration state up to date (cheaper than rebuilding)."""
    stale = list(PoolSchema.objects.filter(claimed_at__isnull=True).exclude(fingerprint=fingerprint))
    for entry in stale:
        _migrate(entry.schema_name)
        PoolSchema.objects.filter(pk=entry.pk).update(fingerprint=fingerprint)
    return len(stale)


def fill(size: int = POOL_SIZE) -> int:
    """Top the pool up to ``size`` ready schemas; returns how many were built."""
    fingerprint = migration_fingerprint()
    refresh_stale(fingerprint)
    ready = PoolSchema.objects.filter(claimed_at__isnull=True, fingerprint=fingerprint).count()
    for _ in range(max(0, size - ready)):
        build_one(fingerprint)
    built = max(0, size - ready)
    if built:
        log.info("tenant_pool.filled", built=built, size=size)
    return built


def claim() -> str | None:
    """A ready schema for a new portal, or None when the pool is empty (the caller migrates).

    Must run inside the portal's transaction: the claim is undone with it.
    """
    entry = (PoolSchema.objects.select_for_update(skip_locked=True)
             .filter(claimed_at__isnull=True, fingerprint=migration_fingerprint()).order_by("pk").first())
    if entry is None:
        return None
    PoolSchema.objects.filter(pk=entry.pk).update(claimed_at=timezone.now())
    return entry.schema_name


def claim_for_new_portal() -> str | None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("claim the pool schema inside the portal's transaction")
    return claim()
