"""The staff console's pages: the portal list and its filters, a portal's page, actions, settings, audit log."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from billing.models import Subscription
from billing.tests.fake_stripe import fake_stripe_fixture, subscribe  # noqa: F401  (fixture)
from tenants.models import AuditEvent, Domain, PlatformSettings, Tenant
from tenants.services import create_partner, link_client_portal

pytestmark = pytest.mark.django_db


def _names(response) -> list[str]:
    page = response.content.decode()
    return [name for name in ("Alfa Handel", "Beta Serwis") if name in page]


# --- The list ---------------------------------------------------------------------------------------

def test_the_list_shows_plan_seats_state_partner_and_creation(staff_client, portal_a, portal_b):
    page = staff_client.get("/staff/").content.decode()
    assert "Alfa Handel Sp. z o.o." in page and "Beta Serwis S.A." in page
    assert "Enterprise" in page and "Trial" in page  # the 30-day trial of the top plan
    assert "1 / " in page  # one person with access (the owner) against the plan's seats


@pytest.mark.parametrize("term", ["alfa handel", "ALFA", "alfa.kompas.test", "joanna.kowalska@"])
def test_search_by_name_address_domain_and_owner_email(staff_client, portal_a, portal_b, term):
    assert _names(staff_client.get("/staff/", {"q": term})) == ["Alfa Handel"]


def test_search_finds_a_custom_domain(staff_client, portal_a, portal_b):
    Domain.objects.create(domain="crm.beta-serwis.pl", tenant=portal_b.tenant, is_primary=False, is_custom=True)
    assert _names(staff_client.get("/staff/", {"q": "beta-serwis.pl"})) == ["Beta Serwis"]


def test_filters_by_state_plan_partner_and_signup_date(staff_client, portal_a, portal_b):
    Tenant.objects.filter(pk=portal_b.tenant.pk).update(status=Tenant.Status.SUSPENDED)
    assert _names(staff_client.get("/staff/", {"status": "suspended"})) == ["Beta Serwis"]
    assert _names(staff_client.get("/staff/", {"status": "trial"})) == ["Alfa Handel"]

    Subscription.objects.filter(tenant=portal_a.tenant).update(plan_id=_plan("team").pk)
    assert _names(staff_client.get("/staff/", {"plan": "team"})) == ["Alfa Handel"]
    assert _names(staff_client.get("/staff/", {"plan": "enterprise"})) == ["Beta Serwis"]

    partner = create_partner(name="Agencja Orzeł", slug="orzel", email="biuro@orzel.pl")
    link_client_portal(partner=partner, tenant=portal_b.tenant)
    assert _names(staff_client.get("/staff/", {"partner": partner.pk})) == ["Beta Serwis"]
    assert _names(staff_client.get("/staff/", {"partner": "none"})) == ["Alfa Handel"]

    Tenant.objects.filter(pk=portal_a.tenant.pk).update(created_at=timezone.now() - timedelta(days=40))
    today = timezone.localdate()
    recent = staff_client.get("/staff/", {"created_from": (today - timedelta(days=7)).isoformat()})
    assert _names(recent) == ["Beta Serwis"]
    old = staff_client.get("/staff/", {"created_to": (today - timedelta(days=30)).isoformat()})
    assert _names(old) == ["Alfa Handel"]


def test_an_invalid_filter_is_named(staff_client, portals):
    response = staff_client.get("/staff/", {"status": "happy", "created_from": "wczoraj"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Select a valid choice" in page and "Enter a valid date" in page


def test_the_list_is_paginated(staff_client, portal_a, portal_b, monkeypatch):
    from kompas.staff import views

    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    first, second = staff_client.get("/staff/"), staff_client.get("/staff/", {"page": 2})
    assert "Page 1 of 2" in first.content.decode()
    assert len(_names(first)) == 1 and len(_names(second)) == 1 and _names(first) != _names(second)


def _plan(code: str):
    from billing.models import Plan

    return Plan.objects.get(code=code)


# --- One portal -------------------------------------------------------------------------------------

def test_the_portal_page_shows_usage_domains_members_storage_and_events(staff_client, portal_a, settings, tmp_path):
    from django.core.cache import cache

    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                          "OPTIONS": {"location": str(tmp_path)}}}
    cache.delete(f"staff:storage:{portal_a.tenant.schema_name}")
    default_storage.save(f"portals/{portal_a.tenant.schema_name}/exports/kontakty.csv", ContentFile(b"x" * 2048))
    default_storage.save("portals/t_innyportal/obcy.csv", ContentFile(b"y" * 9999))
    AuditEvent.objects.create(action="portal.trial_started", actor_kind="system", tenant=portal_a.tenant)
    page = staff_client.get(f"/staff/tenants/{portal_a.tenant.pk}/").content.decode()
    assert "alfa.kompas.test" in page
    assert "joanna.kowalska@alfa-handel.pl" in page and "1 active member" in page
    assert "2.0\xa0KB" in page  # only this portal's prefix is counted
    assert "Users" in page and "portal.trial_started" in page


def test_the_public_tenant_and_unknown_ids_are_not_found(staff_client, portals):
    public = Tenant.objects.get(schema_name="public")
    assert staff_client.get(f"/staff/tenants/{public.pk}/").status_code == 404
    assert staff_client.get("/staff/tenants/999999/").status_code == 404


# --- Actions ----------------------------------------------------------------------------------------

def _act(client, tenant, action: str, reason: str = "Zgłoszenie nadużycia #4411", **extra):
    return client.post(f"/staff/tenants/{tenant.pk}/actions/{action}/", {"reason": reason, **extra})


def _last_event(tenant, action: str) -> AuditEvent:
    return AuditEvent.objects.filter(tenant=tenant, action=action).latest("created_at")


def test_suspend_and_resume_are_audited_as_staff_with_the_reason(staff_client, staff_user, portal_a):
    tenant = portal_a.tenant
    assert _act(staff_client, tenant, "suspend").status_code == 302
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.SUSPENDED
    event = _last_event(tenant, "portal.suspended")
    assert (event.actor, event.actor_kind, event.reason) == (staff_user, "staff", "Zgłoszenie nadużycia #4411")

    _act(staff_client, tenant, "resume", "Wyjaśnione z klientem")
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.TRIAL
    assert _last_event(tenant, "portal.resumed").actor_kind == "staff"


def test_extend_trial_moves_the_end_of_the_trial(staff_client, portal_a):
    subscription = Subscription.objects.get(tenant=portal_a.tenant)
    before = subscription.trial_ends_at
    _act(staff_client, portal_a.tenant, "extend_trial", "Klient testuje integrację", days="10")
    subscription.refresh_from_db()
    assert subscription.trial_ends_at - before == timedelta(days=10)
    event = _last_event(portal_a.tenant, "portal.trial_extended")
    assert event.actor_kind == "staff" and event.details["days"] == 10


def test_cancel_schedule_deletion_and_reactivate(staff_client, portal_a):
    tenant = portal_a.tenant
    PlatformSettings.objects.update_or_create(pk=1, defaults={"deletion_grace_days": 45})
    _act(staff_client, tenant, "cancel", "Klient rezygnuje")
    _act(staff_client, tenant, "schedule_deletion", "Prośba właściciela o usunięcie")
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.DELETION_SCHEDULED
    assert abs((tenant.deletion_due_at - timezone.now()) - timedelta(days=45)) < timedelta(minutes=1)
    _act(staff_client, tenant, "reactivate", "Klient wraca")
    tenant.refresh_from_db()
    assert tenant.status == Tenant.Status.TRIAL and tenant.deletion_due_at is None
    actions = set(AuditEvent.objects.filter(tenant=tenant, actor_kind="staff").values_list("action", flat=True))
    assert {"portal.cancelled", "portal.deletion_scheduled", "portal.reactivated"} <= actions


def test_an_action_without_a_reason_changes_nothing(staff_client, portal_a):
    response = _act(staff_client, portal_a.tenant, "suspend", reason="  ")
    assert response.status_code == 302
    portal_a.tenant.refresh_from_db()
    assert portal_a.tenant.status == Tenant.Status.TRIAL
    assert not AuditEvent.objects.filter(tenant=portal_a.tenant, action="portal.suspended").exists()
    page = staff_client.get(response["Location"]).content.decode()
    assert "Suspend: Reason:" in page


def test_an_invalid_transition_is_refused_with_its_reason(staff_client, portal_a):
    Tenant.objects.filter(pk=portal_a.tenant.pk).update(status=Tenant.Status.CLOSED)
    response = _act(staff_client, portal_a.tenant, "suspend", "Zawieszenie po anulowaniu")
    page = staff_client.get(response["Location"]).content.decode()
    assert "The portal is cancelled and already read-only; it cannot be suspended" in page
    assert not AuditEvent.objects.filter(tenant=portal_a.tenant, action="portal.suspended").exists()


def test_a_move_to_where_the_portal_already_is_says_so(staff_client, portal_a):
    response = _act(staff_client, portal_a.tenant, "reactivate", "Nie ma czego przywracać")
    assert "Reactivate: nothing to do, the portal is already trial." in staff_client.get(
        response["Location"]).content.decode()
    assert not AuditEvent.objects.filter(tenant=portal_a.tenant, action="portal.reactivated").exists()


def test_change_plan_of_a_trial_portal_applies_now_and_is_audited(staff_client, staff_user, portal_a):
    response = staff_client.post(f"/staff/tenants/{portal_a.tenant.pk}/plan/",
                                 {"plan": "team", "reason": "Umowa ramowa 2024/17"})
    assert response.status_code == 302
    assert Subscription.objects.get(tenant=portal_a.tenant).plan.code == "team"
    event = _last_event(portal_a.tenant, "staff.change_plan")
    assert event.actor == staff_user and event.actor_kind == "staff"
    assert event.details == {"previous_plan": "enterprise", "plan": "team", "seats": None, "applies": "now"}


def test_change_plan_refuses_fewer_seats_than_people(staff_client, portal_a):
    response = staff_client.post(f"/staff/tenants/{portal_a.tenant.pk}/plan/",
                                 {"plan": "per-seat", "reason": "Umowa ramowa 2024/17"})
    assert "Seats: enter how many users" in staff_client.get(response["Location"]).content.decode()
    assert Subscription.objects.get(tenant=portal_a.tenant).plan.code == "enterprise"


def test_change_plan_of_a_paying_portal_goes_through_stripe(staff_client, portal_a, fake_stripe):
    subscribe(fake_stripe, staff_client, portal_a.tenant, plan_code="team")
    subscription = Subscription.objects.get(tenant=portal_a.tenant)
    assert subscription.plan.code == "team" and subscription.status == Subscription.Status.ACTIVE

    staff_client.post(f"/staff/tenants/{portal_a.tenant.pk}/plan/", {"plan": "business", "reason": "Upgrade z umowy"})
    subscription.refresh_from_db()
    assert subscription.plan.code == "business"  # re-read from Stripe at once
    assert fake_stripe.requests_to("POST", f"/v1/subscriptions/{subscription.stripe_subscription_id}")

    staff_client.post(f"/staff/tenants/{portal_a.tenant.pk}/plan/", {"plan": "start", "reason": "Klient zmniejsza"})
    subscription.refresh_from_db()
    assert subscription.plan.code == "business" and subscription.scheduled_plan.code == "start"
    assert _last_event(portal_a.tenant, "staff.change_plan").details["applies"] == "at_period_end"


# --- Platform settings and the audit log ---------------------------------------------------------

def test_staff_edit_platform_settings_and_the_change_is_audited(staff_client):
    response = staff_client.post("/staff/settings/", {"deletion_grace_days": "60", "impersonation_minutes": "20"})
    assert response.status_code == 302
    row = PlatformSettings.load()
    assert (row.deletion_grace_days, row.impersonation_minutes) == (60, 20)
    event = AuditEvent.objects.get(action="staff.platform_settings")
    assert event.details["after"] == {"deletion_grace_days": 60, "impersonation_minutes": 20}
    bad = staff_client.post("/staff/settings/", {"deletion_grace_days": "0", "impersonation_minutes": "999"})
    assert bad.status_code == 400
    assert PlatformSettings.load().deletion_grace_days == 60


def test_the_audit_log_filters_and_exports_csv(staff_client, staff_user, portal_a, portal_b):
    _act(staff_client, portal_a.tenant, "suspend", "Zgłoszenie nadużycia #1")
    _act(staff_client, portal_b.tenant, "suspend", "Zgłoszenie nadużycia #2")
    by_portal = staff_client.get("/staff/audit/", {"tenant": portal_a.tenant.pk}).content.decode()
    assert "nadużycia #1" in by_portal and "nadużycia #2" not in by_portal
    by_action = staff_client.get("/staff/audit/", {"action": "portal.suspended", "actor": "agnieszka"}).content.decode()
    assert "nadużycia #1" in by_action and "nadużycia #2" in by_action
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert "nadużycia" not in staff_client.get("/staff/audit/", {"date_from": tomorrow}).content.decode()

    export = staff_client.get("/staff/audit/", {"tenant": portal_b.tenant.pk, "format": "csv"})
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0][:3] == ["time", "actor_kind", "actor"]
    assert [row[5] for row in rows[1:]] == ["portal.suspended"]
    assert rows[1][2] == staff_user.email and rows[1][6] == "Zgłoszenie nadużycia #2"


# --- Provisioning -----------------------------------------------------------------------------------

def test_the_provisioning_page_lists_what_an_interrupted_creation_left_and_the_pool(staff_client):
    from django.db import connection

    from tenants.models import PoolSchema

    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "t_0bad0bad0bad"')  # a crashed creation: a schema with no portal or pool row
    page = staff_client.get("/staff/provisioning/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-kind="orphan_schema"' in page and "t_0bad0bad0bad" in page
    assert f"{PoolSchema.objects.filter(claimed_at__isnull=True).count()} of " in page


def test_the_provisioning_page_is_for_staff_only(portal_a):
    from kompas.staff.tests.helpers import public_client

    anonymous = public_client().get("/staff/provisioning/")
    assert anonymous.status_code in (302, 403)
    owner = portal_a.client(logged_in=True).get("/staff/provisioning/")
    assert owner.status_code == 404  # not a portal-host page at all
