"""Session limits, ending sessions, and IP allowlists per portal, department and person."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django_tenants.utils import tenant_context

from identity.accounts.models import User
from identity.members.models import MemberSession, Membership, SecurityPolicy
from identity.members.services import add_member, assign, create_department

pytestmark = pytest.mark.django_db


def _sign_in(portal, email: str, password: str, ip: str = "127.0.0.1") -> tuple[Client, object]:
    client = Client(HTTP_HOST=portal.host, HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR=ip)
    return client, client.post("/auth/login/", {"username": email, "password": password})


def _member(portal, email: str) -> User:
    user = User.objects.create_user(email=email, password=portal.password, full_name="Tomasz Zieliński")
    with tenant_context(portal.tenant):
        add_member(user=user)
    return user


def test_a_session_lasts_as_long_as_the_portal_allows(portal_a):
    with tenant_context(portal_a.tenant):
        SecurityPolicy.current()
        SecurityPolicy.objects.update(session_hours=8)
    client, response = _sign_in(portal_a, portal_a.owner.email, portal_a.password)
    assert response.status_code == 302
    assert client.session.get_expiry_age() == 8 * 3600


def test_log_out_all_other_devices_keeps_this_one(portal_a):
    phone, _ = _sign_in(portal_a, portal_a.owner.email, portal_a.password)
    laptop, _ = _sign_in(portal_a, portal_a.owner.email, portal_a.password)
    assert "this device" in laptop.get("/auth/sessions/").content.decode()
    laptop.post("/auth/sessions/")
    assert laptop.get("/").status_code == 200
    assert phone.get("/").status_code == 302


def test_an_administrator_signs_a_member_out_everywhere(portal_a):
    user = _member(portal_a, "wylogowany@alfa-handel.pl")
    member_client, _ = _sign_in(portal_a, user.email, portal_a.password)
    assert member_client.get("/").status_code == 200
    with tenant_context(portal_a.tenant):
        membership = Membership.objects.get(user=user)
    portal_a.client(logged_in=True).post(f"/settings/people/{membership.pk}/logout/")
    assert member_client.get("/").status_code == 302
    with tenant_context(portal_a.tenant):
        assert not MemberSession.objects.filter(user_id=user.pk).exists()


def test_the_portal_allowlist_refuses_other_addresses_with_the_reason(portal_a):
    user = _member(portal_a, "z.domu@alfa-handel.pl")
    with tenant_context(portal_a.tenant):
        SecurityPolicy.current()
        SecurityPolicy.objects.update(ip_allowlist="10.20.0.0/16\n")
    _client, refused = _sign_in(portal_a, user.email, portal_a.password, ip="203.0.113.9")
    assert refused.status_code == 400
    assert "Signing in from your IP address (203.0.113.9) is not allowed" in refused.content.decode()
    _client, allowed = _sign_in(portal_a, user.email, portal_a.password, ip="10.20.3.4")
    assert allowed.status_code == 302


def test_a_session_moved_to_a_disallowed_address_is_refused(portal_a):
    user = _member(portal_a, "w.podrozy@alfa-handel.pl")
    client, _ = _sign_in(portal_a, user.email, portal_a.password, ip="10.20.3.4")
    with tenant_context(portal_a.tenant):
        SecurityPolicy.current()
        SecurityPolicy.objects.update(ip_allowlist="10.20.0.0/16")
    assert client.get("/").status_code == 200
    elsewhere = client.get("/", REMOTE_ADDR="198.51.100.1")
    assert elsewhere.status_code == 403
    assert "198.51.100.1" in elsewhere.content.decode()


def test_the_most_specific_list_applies_person_then_department_then_portal(portal_a):
    from identity.members.security import allowlist_for

    user = _member(portal_a, "handlowiec.terenowy@alfa-handel.pl")
    with tenant_context(portal_a.tenant):
        SecurityPolicy.current()
        SecurityPolicy.objects.update(ip_allowlist="10.0.0.0/8")
        field = create_department(name="Sprzedaż terenowa")
        field.ip_allowlist = "192.0.2.0/24"
        field.save()
        east = create_department(name="Wschód", parent=field)
        membership = assign(membership=Membership.objects.get(user=user), department=east)
        assert allowlist_for(membership) == "192.0.2.0/24"  # inherited from the parent department
        membership.ip_allowlist = "198.51.100.7"
        membership.save()
        assert allowlist_for(membership) == "198.51.100.7"
    _client, response = _sign_in(portal_a, user.email, portal_a.password, ip="198.51.100.7")
    assert response.status_code == 302


def test_an_administrator_cannot_lock_themselves_out_and_bad_lines_are_named(portal_a):
    admin = portal_a.client(logged_in=True)
    admin.post("/settings/security/", {"action": "policy", "ip_allowlist": "10.0.0.0/8", "grace_days": "7"},
               HTTP_ACCEPT_LANGUAGE="en")
    page = admin.get("/settings/security/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "you would lock yourself out" in page
    admin.post("/settings/security/", {"action": "policy", "ip_allowlist": "127.0.0.1\nbiuro", "grace_days": "7"},
               HTTP_ACCEPT_LANGUAGE="en")
    page = admin.get("/settings/security/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Line 2: “biuro” is not an IP address or network" in page
    with tenant_context(portal_a.tenant):
        assert SecurityPolicy.current().ip_allowlist == ""


def test_sessions_of_one_portal_cannot_be_ended_from_another(portal_a, portal_b):
    with tenant_context(portal_b.tenant):
        membership_b = Membership.objects.get(user=portal_b.owner)
    client_b, _ = _sign_in(portal_b, portal_b.owner.email, portal_b.password)
    response = portal_a.client(logged_in=True).post(f"/settings/people/{membership_b.pk}/logout/")
    assert response.status_code in (302, 404)
    assert client_b.get("/").status_code == 200
    assert Session.objects.count() >= 0  # public table untouched; portal sessions live in portal schemas
