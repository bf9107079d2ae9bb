"""The warm pool: signup claims a pre-migrated schema, never a stale one, and gives it back on failure."""

from __future__ import annotations

import pytest
from django.db import connection

from tenants import pool
from tenants.models import PoolSchema, Tenant
from tenants.services import create_tenant

pytestmark = pytest.mark.django_db


def _tables_in(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def test_fill_builds_migrated_schemas_and_a_new_portal_takes_one(portals):
    assert pool.fill(size=2) == 2
    ready = list(PoolSchema.objects.filter(claimed_at__isnull=True).values_list("schema_name", flat=True))
    assert len(ready) == 2 and "members_membership" in _tables_in(ready[0])
    tenant = create_tenant(name="Gamma Meble", slug="gamma")
    assert tenant.schema_name == ready[0]
    assert PoolSchema.objects.get(schema_name=ready[0]).claimed_at is not None
    assert pool.fill(size=2) == 1  # topped up again


def test_a_failed_portal_creation_returns_the_schema_to_the_pool(portals, monkeypatch):
    from tenants.models import Domain

    pool.fill(size=1)
    [schema] = PoolSchema.objects.filter(claimed_at__isnull=True).values_list("schema_name", flat=True)

    def failing(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(Domain.objects, "create", failing)
    with pytest.raises(RuntimeError):
        create_tenant(name="Delta", slug="delta-meble")
    assert PoolSchema.objects.get(schema_name=schema).claimed_at is None
    assert not Tenant.objects.filter(slug="delta-meble").exists()


def test_a_schema_built_at_an_older_migration_state_is_migrated_before_it_is_claimed(portals):
    pool.fill(size=1)
    entry = PoolSchema.objects.get(claimed_at__isnull=True)
    PoolSchema.objects.filter(pk=entry.pk).update(fingerprint="stare-migracje")
    assert pool.claim() is None  # stale: never handed out
    pool.fill(size=1)
    assert PoolSchema.objects.get(pk=entry.pk).fingerprint == pool.migration_fingerprint()
    assert pool.claim() == entry.schema_name


def test_an_empty_pool_without_a_template_falls_back_to_migrating_a_new_schema(portals):
    from tenants.models import TemplateSchema

    assert not PoolSchema.objects.filter(claimed_at__isnull=True).exists()
    TemplateSchema.objects.all().delete()  # no clone template either (rolled back after the test)
    tenant = create_tenant(name="Epsilon", slug="epsilon")
    assert "members_membership" in _tables_in(tenant.schema_name)


def test_the_fingerprint_changes_with_the_migration_state(portals, monkeypatch):
    before = pool.migration_fingerprint()
    from django.db.migrations.graph import MigrationGraph

    original = MigrationGraph.leaf_nodes
    monkeypatch.setattr(MigrationGraph, "leaf_nodes", lambda self: [*original(self), ("members", "9999_nowa")])
    assert pool.migration_fingerprint() != before
