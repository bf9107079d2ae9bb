"""The warm pool of pre-migrated portal schemas (control-plane issue, provisioning).

A job keeps ``POOL_SIZE`` schemas ready, plus a template schema; creating a portal claims one
with ``SKIP LOCKED`` inside the portal's own transaction (a rollback returns it to the pool). When
the pool is empty it clones the template (tenants.template) and, as the last resort, migrates a
new schema. Schemas built at an older migration state are brought up to date before anyone can
claim them, so a stale schema is never handed out. docs/decisions/0011 and 0023.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

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


def build_schema(create_row):
    """Create and migrate a new schema, its bookkeeping row written (committed) first.

    The row comes first so that a process killed while migrating leaves a row without a
    fingerprint, which the reconciliation job finds and cleans up; a failure cleans up here.
    """
    schema_name = new_schema_name()
    entry = create_row(schema_name)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{schema_name}"')
        _migrate(schema_name)
    except BaseException:
        # Inside a caller's transaction its rollback undoes both; otherwise undo them here.
        if not transaction.get_connection().in_atomic_block:
            connection.set_schema_to_public()
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')
            entry.delete()
        raise
    return entry


def build_one(fingerprint: str) -> PoolSchema:
    # An empty fingerprint until migrated: claim() never sees a half-built schema.
    entry = build_schema(lambda name: PoolSchema.objects.create(schema_name=name, fingerprint=""))
    entry.fingerprint = fingerprint
    entry.save(update_fields=["fingerprint"])
    return entry


def refresh_stale(fingerprint: str) -> int:
    """Bring schemas built at an older migration state up to date (cheaper than rebuilding)."""
    stale = list(PoolSchema.objects.filter(claimed_at__isnull=True).exclude(fingerprint=fingerprint)
                 .exclude(fingerprint=""))
    for entry in stale:
        _migrate(entry.schema_name)
        PoolSchema.objects.filter(pk=entry.pk).update(fingerprint=fingerprint)
    return len(stale)


# Held (session-level) by whoever builds pool or template schemas: two jobs never build at
# once, and the reconciliation job knows a row without a fingerprint is not being built now.
_BUILD_LOCK = 0x6B6F6D7061730002
# Taken by every portal creation: shared on the pool path, exclusive on the clone/migrate path.
_CREATION_LOCK = 0x6B6F6D7061730003


@contextmanager
def build_lock(*, wait: bool = True) -> Iterator[bool]:
    """The builders' lock; yields False when ``wait`` is off and another process holds it."""
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s)", [_BUILD_LOCK])
            got = True
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [_BUILD_LOCK])
            got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            connection.set_schema_to_public()
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_BUILD_LOCK])


def fill(size: int = POOL_SIZE, *, with_template: bool = True) -> int:
    """Top the pool up to ``size`` ready schemas and keep the template current; returns pool schemas built."""
    from tenants import template

    fingerprint = migration_fingerprint()
    with build_lock():
        refresh_stale(fingerprint)
        if with_template:
            template.ensure(fingerprint)
        ready = PoolSchema.objects.filter(claimed_at__isnull=True, fingerprint=fingerprint).count()
        built = max(0, size - ready)
        for _ in range(built):
            build_one(fingerprint)
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


class Path:
    POOL = "pool"
    CLONE = "clone"
    MIGRATE = "migrate"


def _creation_lock(*, shared: bool) -> None:
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [_CREATION_LOCK])


def acquire_schema() -> tuple[str, str]:
    """A schema for a new portal and how it was got: pool → clone → migrate (``Path``).

    Must be the portal transaction's first write. Why the lock: cloning or migrating adds
    foreign keys to public tables (accounts), which takes a lock on them that conflicts with
    the row writes every other portal creation makes (its owner account). Two creations that
    each wrote an account and then want that lock deadlock. So a creation from the pool takes
    the lock shared (they run side by side) and one that clones or migrates takes it exclusive,
    *before* writing anything: it waits for creations in flight, and new ones wait for it.
    With ``Path.MIGRATE`` the schema does not exist yet; saving the Tenant migrates it.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("acquire the schema inside the portal's transaction")
    schema_name = claim()
    if schema_name is not None:
        _creation_lock(shared=True)
        return schema_name, Path.POOL
    _creation_lock(shared=False)
    schema_name = claim()  # the job may have topped the pool up while we waited
    if schema_name is not None:
        return schema_name, Path.POOL
    from tenants import template

    schema_name = new_schema_name()
    try:
        template.clone_into(schema_name)
    except template.CloneRefused:
        return schema_name, Path.MIGRATE
    return schema_name, Path.CLONE
