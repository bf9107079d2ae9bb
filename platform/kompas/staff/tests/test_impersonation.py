"""Staff access to a portal: a reason, a one-time link for the portal's own host, read-only, a banner,
an end (by staff, by the portal's administrators, or by the clock), all audited and listed to the portal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from identity.accounts.models import User
from identity.members.services import add_member
from identity.members.tokens import token_hash
from kompas.staff import services
from tenants.models import AuditEvent, Impersonation, PlatformSettings

pytestmark = pytest.mark.django_db

REASON = "Zgłoszenie #5120: klient nie widzi lejka"


def _start(staff_client, portal, as_user=None, reason: str = REASON) -> str:
    """Start staff access from the console; returns the entry path on the portal's host."""
    response = staff_client.post(f"/staff/tenants/{portal.tenant.pk}/impersonate/",
                                 {"as_user": (as_user or portal.owner).pk, "reason": reason})
    assert response.status_code == 302, response
    prefix = f"http://{portal.host}/staff-access/enter/"
    assert response["Location"].startswith(prefix), response["Location"]
    return response["Location"].removeprefix(f"http://{portal.host}")


def _enter(portal, path: str) -> tuple[Client, object]:
    """Open the link (a page that explains; only its button uses the link up), then use it."""
    client = Client(HTTP_HOST=portal.host, HTTP_ACCEPT_LANGUAGE="en")
    shown = client.get(path)
    used = client.post(path)
    assert (shown.status_code == 200) == (used.status_code == 302), (shown.status_code, used.status_code)
    return client, used


def test_the_link_stores_only_a_hash_and_the_start_is_audited(staff_client, staff_user, portal_a):
    path = _start(staff_client, portal_a)
    token = path.rstrip("/").rsplit("/", 1)[1]
    impersonation = Impersonation.objects.get(tenant=portal_a.tenant)
    assert impersonation.token_hash == token_hash(token) and token not in impersonation.token_hash
    assert impersonation.reason == REASON and impersonation.staff_user == staff_user
    minutes = PlatformSettings.load().impersonation_minutes
    assert abs(impersonation.expires_at - (timezone.now() + timedelta(minutes=minutes))) < timedelta(seconds=30)
    started = AuditEvent.objects.get(action="impersonation.started")
    assert started.actor_kind == "staff" and started.reason == REASON
    assert started.details["as_member"] == portal_a.owner.email


def test_a_reason_and_an_active_member_of_that_portal_are_required(staff_client, portal_a, portal_b):
    url = f"/staff/tenants/{portal_a.tenant.pk}/impersonate/"
    staff_client.post(url, {"as_user": portal_a.owner.pk, "reason": ""})
    staff_client.post(url, {"as_user": portal_b.owner.pk, "reason": REASON})  # a member of another portal
    assert not Impersonation.objects.exists()
    with pytest.raises(ValidationError, match="choose an active member"):
        services.start_impersonation(tenant=portal_a.tenant, actor=User.objects.get(is_staff=True),
                                     as_user_id=portal_b.owner.pk, reason=REASON)


def test_the_link_works_once_and_shows_the_banner_on_every_page(staff_client, staff_user, portal_a):
    path = _start(staff_client, portal_a)
    client, entered = _enter(portal_a, path)
    assert entered.status_code == 302 and entered["Location"] == "/"
    for page_path in ("/", "/settings/"):
        page = client.get(page_path)
        assert page.status_code == 200
        body = page.content.decode()
        assert 'data-testid="impersonation-banner"' in body
        assert f"{staff_user.email} is viewing this portal as {portal_a.owner.email}" in body
    assert AuditEvent.objects.filter(action="impersonation.entered").count() == 1

    _again, second = _enter(portal_a, path)
    assert second.status_code == 404 and "This entry link cannot be used" in second.content.decode()


def test_the_link_is_refused_on_another_portals_host_and_stays_usable_on_its_own(staff_client, portal_a, portal_b):
    path = _start(staff_client, portal_a)
    _client, wrong_host = _enter(portal_b, path)
    assert wrong_host.status_code == 404
    assert _client.get("/").status_code == 302  # not signed in on portal B
    _right, entered = _enter(portal_a, path)
    assert entered.status_code == 302


def test_the_link_expires_after_a_few_minutes(staff_client, portal_a):
    path = _start(staff_client, portal_a)
    impersonation = Impersonation.objects.get(tenant=portal_a.tenant)
    type(impersonation.grant).objects.filter(pk=impersonation.grant.pk).update(
        token_expires_at=timezone.now() - timedelta(seconds=1))
    _client, late = _enter(portal_a, path)
    assert late.status_code == 404


def test_staff_access_is_read_only(staff_client, portal_a):
    client, _ = _enter(portal_a, _start(staff_client, portal_a))
    refused = client.post("/settings/portal/", {"name": "Przejęty portal", "language": "pl",
                                                "time_zone": "Europe/Warsaw", "currency": "PLN"})
    assert refused.status_code == 403 and "Staff access is read-only" in refused.content.decode()
    api = client.post("/api/v1/contacts/", {"first_name": "Jan"}, content_type="application/json")
    assert api.status_code == 403 and api.json()["error"]["code"] == "staff_access_read_only"
    portal_a.tenant.refresh_from_db()
    assert portal_a.tenant.name == "Alfa Handel Sp. z o.o."


def test_at_expiry_the_session_ends_by_itself_and_the_end_is_audited(staff_client, portal_a):
    client, _ = _enter(portal_a, _start(staff_client, portal_a))
    impersonation = Impersonation.objects.get(tenant=portal_a.tenant)
    Impersonation.objects.filter(pk=impersonation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == f"http://kompas.test/staff/tenants/{portal_a.tenant.pk}/"
    impersonation.refresh_from_db()
    assert impersonation.ended_at is not None
    ended = AuditEvent.objects.get(action="impersonation.ended")
    assert ended.details["ended_by"] == "expiry"
    assert client.get("/")["Location"].startswith("/auth/login/")  # signed out


def test_the_job_ends_expired_access_nobody_came_back_to(staff_client, portal_a):
    _start(staff_client, portal_a)
    Impersonation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert services.end_expired_impersonations() == 1
    assert services.end_expired_impersonations() == 0
    assert AuditEvent.objects.filter(action="impersonation.ended").count() == 1


def test_end_now_in_the_banner_ends_it_and_goes_back_to_the_console(staff_client, portal_a):
    client, _ = _enter(portal_a, _start(staff_client, portal_a))
    response = client.post("/staff-access/end/")
    assert response["Location"] == f"http://kompas.test/staff/tenants/{portal_a.tenant.pk}/"
    assert Impersonation.objects.get(tenant=portal_a.tenant).ended_at is not None
    assert AuditEvent.objects.get(action="impersonation.ended").details["ended_by"] == "staff"
    assert client.get("/")["Location"].startswith("/auth/login/")


def test_logging_out_ends_it_too(staff_client, portal_a):
    client, _ = _enter(portal_a, _start(staff_client, portal_a))
    client.post("/auth/logout/")
    assert AuditEvent.objects.get(action="impersonation.ended").details["ended_by"] == "logout"


def test_the_portals_administrators_see_staff_access_and_can_end_it(staff_client, staff_user, portal_a, portal_b):
    impersonator, _ = _enter(portal_a, _start(staff_client, portal_a))
    admin = portal_a.client(logged_in=True)
    page = admin.get("/settings/staff-access/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert staff_user.email in page and REASON in page and "running" in page
    assert "/settings/staff-access/" in admin.get("/settings/").content.decode()  # linked from the settings hub

    other = portal_b.client(logged_in=True).get("/settings/staff-access/", HTTP_ACCEPT_LANGUAGE="en")
    assert other.status_code == 200 and REASON not in other.content.decode()

    impersonation = Impersonation.objects.get(tenant=portal_a.tenant)
    # Portal B's administrator cannot end portal A's staff access by guessing its id.
    portal_b.client(logged_in=True).post("/settings/staff-access/", {"impersonation": impersonation.pk})
    impersonation.refresh_from_db()
    assert impersonation.ended_at is None

    admin.post("/settings/staff-access/", {"impersonation": impersonation.pk})
    impersonation.refresh_from_db()
    assert impersonation.ended_at is not None
    ended = AuditEvent.objects.get(action="impersonation.ended")
    assert ended.details["ended_by"] == "portal_admin" and ended.actor == portal_a.owner
    assert impersonator.get("/").status_code == 302  # the staff session is over at its next request


def test_members_who_are_not_administrators_do_not_see_the_list(portal_a):
    user = User.objects.create_user(email="tomasz.wisniewski@alfa-handel.pl", password=portal_a.password)
    with tenant_context(portal_a.tenant):
        add_member(user=user)
    client = Client(HTTP_HOST=portal_a.host)
    with tenant_context(portal_a.tenant):
        assert client.login(username=user.email, password=portal_a.password)
    assert client.get("/settings/staff-access/").status_code == 403


def test_the_staff_access_pages_do_not_exist_on_the_public_host(staff_client, portal_a):
    assert staff_client.get("/settings/staff-access/").status_code == 404
    assert staff_client.post("/staff-access/end/").status_code == 404
