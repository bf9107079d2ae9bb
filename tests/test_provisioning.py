"""Provisioning: pool → clone of the template → migrate, concurrency, failures at every step,
crashes, and the reconciliation job that finishes or cleans up (docs/decisions/0023)."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import check_password, make_password
from django.core import mail
from django.db import connection, connections
from django.utils import timezone, translation
from django_tenants.utils import tenant_context

from billing.models import Subscription
from identity.accounts.models import User
from identity.members.models import Membership
from kompas import provisioning
from kompas.provisioning import create_portal
from kompas.site import signup as signups
from kompas.testing.fixtures import in_own_connection
from tenants import jobs, pool, reconcile, template
from tenants.models import AuditEvent, PoolSchema, Signup, TemplateSchema, Tenant
from tenants.selectors import provisioning_problems

pytestmark = pytest.mark.django_db
PASSWORD = "Kompas-na-start-2026"


def _schemas() -> set[str]:
    return reconcile.schemas_in_database()


def _new(slug: str, **kwargs):
    return create_portal(name=f"Firma {slug}", slug=slug, owner_email=f"szef@{slug}.pl", owner_password=PASSWORD,
                         **kwargs)


# --- Clone fallback --------------------------------------------------------------------------------

def test_an_empty_pool_clones_the_template_and_the_clone_is_identical_to_it(portals):
    pool.fill(size=0)  # the job: no pool schemas here, but the template at today's migrations
    tpl = template.current()
    assert tpl is not None and tpl.fingerprint == pool.migration_fingerprint()
    portal = _new("klon-meble")
    assert portal.tenant.provisioning_path == pool.Path.CLONE
    schema = portal.tenant.schema_name
    # Same columns (generated search columns too), constraint names, indexes, sequence types.
    assert template.catalogue(schema) == template.catalogue(tpl.schema_name)
    assert template.applied_migrations(schema) == template.applied_migrations(tpl.schema_name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT conname FROM pg_constraint WHERE connamespace = %s::regnamespace", [schema])
        names = {row[0] for row in cursor.fetchall()}
    assert "one_scope_per_role_right" in names  # clone_schema alone would have renamed it
    with tenant_context(portal.tenant):
        from crm.contacts.models import Contact
        from crm.deals.models import Pipeline

        assert Membership.objects.get(user=portal.owner).is_owner
        assert Pipeline.objects.filter(is_default=True).exists()  # identity sequences continue
        contact = Contact.objects.create(first_name="Łucja", last_name="Żółkiewska")
        # the generated search column (public.kompas_search_doc) works in the clone
        assert "zolkiewska" in Contact.objects.values_list("search_text", flat=True).get(pk=contact.pk)


def test_a_stale_template_is_never_cloned_and_the_job_replaces_it(portals):
    pool.fill(size=0)
    old = template.current()
    TemplateSchema.objects.filter(pk=old.pk).update(fingerprint="stare-migracje")
    assert template.current() is None
    portal = _new("stary-wzor")
    assert portal.tenant.provisioning_path == pool.Path.MIGRATE  # last resort, still a full schema
    with connection.cursor() as cursor:
        # Only because this test builds and drops the template in one transaction: PostgreSQL
        # refuses to drop tables with deferred foreign-key checks pending (the job commits first).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    pool.fill(size=0)
    new = template.current()
    assert new is not None and new.pk != old.pk
    assert not TemplateSchema.objects.filter(pk=old.pk).exists() and old.schema_name not in _schemas()


def test_a_clone_that_does_not_match_its_template_is_refused_and_migrated_instead(portals, monkeypatch):
    pool.fill(size=0)
    before = _schemas()
    monkeypatch.setattr(template, "repair", lambda *args: 0)  # constraint names stay clone_schema's
    portal = _new("zly-klon")
    assert portal.tenant.provisioning_path == pool.Path.MIGRATE
    assert _schemas() == before | {portal.tenant.schema_name}  # the refused copy left nothing


# --- Concurrency -------------------------------------------------------------------------------------

def _race(slugs: list[str]) -> dict[str, str]:
    barrier, outcomes, lock = threading.Barrier(len(slugs)), {}, threading.Lock()

    def create(slug: str) -> None:
        try:
            connection.set_schema_to_public()
            barrier.wait()
            try:
                result = _new(slug).tenant.provisioning_path
            except Exception as error:  # reported below, with its type
                result = f"error {type(error).__name__}: {error}"
            with lock:
                outcomes[slug] = result
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create, args=(slug,)) for slug in slugs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return outcomes


def test_concurrent_creations_with_a_small_or_empty_pool_all_finish_without_deadlock(portals):
    run = uuid.uuid4().hex[:6]
    first, second = [f"rown-{run}-{n}" for n in range(3)], [f"pusty-{run}-{n}" for n in range(2)]
    templates_before = list(TemplateSchema.objects.values_list("pk", flat=True))  # the session's one stays

    def clean_up() -> None:
        for tenant in Tenant.objects.filter(slug__in=first + second):
            tenant.delete(force_drop=True)
        User.objects.filter(email__in=[f"szef@{slug}.pl" for slug in first + second]).delete()
        for entry in TemplateSchema.objects.exclude(pk__in=templates_before):
            template.drop(entry)
        for entry in PoolSchema.objects.filter(claimed_at__isnull=True):
            reconcile._drop(entry.schema_name)
            entry.delete()

    in_own_connection(pool.fill, 1)  # committed: one pool schema and the template
    try:
        outcomes = _race(first)  # a pool smaller than the number of signups
        assert sorted(outcomes.values()) == ["clone", "clone", "pool"], outcomes
        outcomes = _race(second)  # an empty pool
        assert sorted(outcomes.values()) == ["clone", "clone"], outcomes
        assert in_own_connection(lambda: Tenant.objects.filter(slug__in=first + second).count()) == 5
        assert in_own_connection(reconcile.orphan_schemas) == set()
    finally:
        in_own_connection(clean_up)


# --- Failures at every step, and crashes -------------------------------------------------------------

def _signup(slug: str, **fields) -> tuple[Signup, str]:
    token = signups.new_token()
    signup = Signup.objects.create(
        email=f"anna@{slug}.pl", full_name="Anna Nowak", company_name=f"Firma {slug}", kind="company", slug=slug,
        language="en", password_hash=make_password(PASSWORD), token_hash=signups.token_hash(token),
        expires_at=timezone.now() + timedelta(hours=24), **fields)
    return signup, token


STEPS = [
    ("tenants.services.Domain.objects.create", "the portal's subdomain"),
    ("kompas.provisioning.get_or_create_account", "the owner's account"),
    ("kompas.provisioning.start_trial", "the trial"),
    ("kompas.provisioning.add_owner", "the owner's membership"),
    ("kompas.provisioning.set_up_crm", "the CRM defaults"),
]


def test_a_failure_at_any_step_leaves_nothing_and_the_job_finishes_the_portal(
        portals, monkeypatch, django_capture_on_commit_callbacks):
    pool.fill(size=1, with_template=False)
    [pooled] = PoolSchema.objects.filter(claimed_at__isnull=True).values_list("schema_name", flat=True)
    schemas_before = _schemas()
    signup, token = _signup("awaria")
    for target, _label in STEPS:
        with monkeypatch.context() as patch:
            def failing(*args, **kwargs):
                raise RuntimeError("dysk pełny")

            patch.setattr(target, failing)
            with translation.override("en"), pytest.raises(signups.ValidationError) as refused:
                signups.complete(token=token, same_browser=True)
        assert "We will finish it for you" in refused.value.messages[0], target
        # No half-tenant: no portal, no account, the pool schema back in the pool, no new schema.
        assert not Tenant.objects.filter(slug="awaria").exists(), target
        assert not User.objects.filter(email="anna@awaria.pl").exists(), target
        assert PoolSchema.objects.get(schema_name=pooled).claimed_at is None, target
        assert _schemas() == schemas_before, target
        signup.refresh_from_db()
        assert signup.completed_at is None and signup.creation_started_at is not None
        assert "dysk pełny" in signup.creation_error

    # Staff see it.
    [problem] = [p for p in provisioning_problems() if p.kind == reconcile.Kind.STUCK_SIGNUP]
    assert "awaria" in problem.subject and "dysk pełny" in problem.detail
    # The job retries it once the cause is gone (and not while a request may still be on it).
    Signup.objects.filter(pk=signup.pk).update(creation_started_at=timezone.now() - timedelta(minutes=5),
                                               creation_attempts=1)
    with django_capture_on_commit_callbacks(execute=True):
        fixes = reconcile.reconcile()
    assert any("awaria finished" in line for line in fixes)
    tenant = Tenant.objects.get(slug="awaria")
    assert tenant.schema_name == pooled
    signup.refresh_from_db()
    assert signup.completed_at and signup.tenant == tenant and signup.password_hash == ""
    owner = User.objects.get(email="anna@awaria.pl")
    assert check_password(PASSWORD, owner.password)  # the password chosen at signup
    with tenant_context(tenant):
        assert Membership.objects.get(user=owner).is_owner
    assert Subscription.objects.filter(tenant=tenant).exists()
    [message] = [m for m in mail.outbox if m.to == ["anna@awaria.pl"]]
    assert "awaria.kompas.test is ready" in message.subject and "/auth/login/" in message.body
    assert AuditEvent.objects.filter(action="provisioning.signup_finished", tenant=tenant).exists()
    assert not [p for p in provisioning_problems() if p.kind == reconcile.Kind.STUCK_SIGNUP]


def test_a_refusal_is_not_a_failure_the_job_leaves_it_to_the_person(portals):
    signup, token = _signup("alfa-druga")
    Signup.objects.filter(pk=signup.pk).update(slug="alfa")  # the address got taken meanwhile
    with translation.override("en"), pytest.raises(signups.ValidationError) as refused:
        signups.complete(token=token, same_browser=True)
    assert "Someone has just taken this portal address" in refused.value.messages[0]
    signup.refresh_from_db()
    assert signup.creation_started_at is None and signup.completed_at is None


def test_a_signup_given_up_after_the_last_attempt_stays_listed_for_staff(portals):
    _signup("uparta", creation_started_at=timezone.now() - timedelta(hours=1),
            creation_attempts=signups.MAX_CREATION_ATTEMPTS, creation_error="RuntimeError: x")
    assert reconcile.reconcile() == []  # not retried any more
    [problem] = [p for p in provisioning_problems() if p.kind == reconcile.Kind.STUCK_SIGNUP]
    assert "stopped trying" in problem.detail or "przestało" in problem.detail


def test_the_job_cleans_up_what_a_killed_builder_left(portals):
    # A process killed while migrating a pool schema: a row without fingerprint and its schema;
    # one killed between CREATE SCHEMA and writing any row: a schema nobody owns.
    half = PoolSchema.objects.create(schema_name="t_0000000000aa", fingerprint="")
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "t_0000000000aa"; CREATE TABLE "t_0000000000aa".django_migrations (id int)')
        cursor.execute('CREATE SCHEMA "t_0000000000bb"')
        cursor.execute('CREATE SCHEMA "t_keep_me"')  # not one of ours: never touched
    kinds = {(p.kind, p.subject) for p in provisioning_problems()}
    assert (reconcile.Kind.HALF_BUILT, "t_0000000000aa") in kinds
    assert (reconcile.Kind.ORPHAN_SCHEMA, "t_0000000000bb") in kinds

    jobs.reconcile_provisioning.fn()  # what the periodic job runs

    assert not PoolSchema.objects.filter(pk=half.pk).exists()
    assert {"t_0000000000aa", "t_0000000000bb"}.isdisjoint(_schemas())
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = 't_keep_me'")
        assert cursor.fetchone() is not None
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"provisioning.half_built_schema_dropped", "provisioning.orphan_schema_dropped"} <= actions
    kinds = {p.kind for p in provisioning_problems()}
    assert reconcile.Kind.HALF_BUILT not in kinds and reconcile.Kind.ORPHAN_SCHEMA not in kinds


def test_a_half_built_schema_is_left_alone_while_a_builder_runs(portals):
    PoolSchema.objects.create(schema_name="t_0000000000cc", fingerprint="")
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "t_0000000000cc"')

    def busy_builder() -> list[str]:
        with pool.build_lock(wait=False) as free:
            assert free
            return in_own_connection(reconcile.clean_half_built)

    assert in_own_connection(busy_builder) == []


def test_a_portal_nobody_can_sign_in_to_gets_its_owner_back_or_is_reported(portals):
    from tenants.services import create_tenant

    # A crash between the steps of a non-atomic path: the portal exists, its owner membership not.
    signed_up = create_tenant(name="Bez właściciela", slug="bez-wlasciciela")
    User.objects.create_user(email="ewa@bez-wlasciciela.pl", password=PASSWORD)
    _signup("bez-wlasciciela")
    Signup.objects.filter(slug="bez-wlasciciela").update(email="ewa@bez-wlasciciela.pl", tenant=signed_up,
                                                         completed_at=timezone.now())
    by_hand = create_tenant(name="Z panelu", slug="z-panelu")  # made in the admin, no signup
    Tenant.objects.filter(pk__in=[signed_up.pk, by_hand.pk]).update(created_at=timezone.now() - timedelta(hours=1))
    kinds = {(p.kind, p.tenant_id) for p in provisioning_problems()}
    assert (reconcile.Kind.PORTAL_WITHOUT_MEMBERS, signed_up.pk) in kinds

    reconcile.reconcile()
    reconcile.reconcile()  # reported once, not every five minutes

    with tenant_context(signed_up):
        assert Membership.objects.get(user__email="ewa@bez-wlasciciela.pl").is_owner
    assert Subscription.objects.filter(tenant=signed_up).exists()
    assert AuditEvent.objects.filter(action="provisioning.owner_restored", tenant=signed_up).count() == 1
    assert AuditEvent.objects.filter(action="provisioning.portal_without_members", tenant=by_hand).count() == 1
    kinds = {(p.kind, p.tenant_id) for p in provisioning_problems()}
    assert (reconcile.Kind.PORTAL_WITHOUT_MEMBERS, by_hand.pk) in kinds
    assert (reconcile.Kind.PORTAL_WITHOUT_MEMBERS, signed_up.pk) not in kinds


def test_the_reconciliation_job_is_scheduled(portals):
    from kompas.scheduler import periodic_jobs

    assert jobs.reconcile_provisioning in [actor for actor, _cron in periodic_jobs()]
    assert provisioning.connect_reconciliation  # connected in KompasConfig.ready
