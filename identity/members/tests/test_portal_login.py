"""Signing in to a portal: members only, host-only sessions, one message for every refusal."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _login(client: Client, email: str, password: str):
    return client.post("/auth/login/", {"username": email, "password": password}, HTTP_ACCEPT_LANGUAGE="en")


def test_login_page_is_what_a_portal_shows_at_its_root(portal_a):
    response = portal_a.client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/auth/login/")


def test_owner_logs_in_and_lands_on_the_portal_home(portal_a):
    client = portal_a.client()
    response = _login(client, portal_a.owner.email, portal_a.password)
    assert response.status_code == 302
    home = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert home.status_code == 200
    assert portal_a.tenant.name in home.content.decode()
    assert portal_a.owner.email in home.content.decode()


def test_email_is_matched_case_insensitively(portal_a):
    response = _login(portal_a.client(), portal_a.owner.email.upper(), portal_a.password)
    assert response.status_code == 302


def test_member_of_portal_a_cannot_log_in_to_portal_b(portal_a, portal_b):
    response = _login(portal_b.client(), portal_a.owner.email, portal_a.password)
    assert response.status_code == 400
    assert "_auth_user_id" not in portal_b.client().session


def test_refusals_do_not_reveal_whether_an_account_exists(portal_a, portal_b):
    wrong_password = _login(portal_a.client(), portal_a.owner.email, "wrong-password").content.decode()
    no_account = _login(portal_a.client(), "nikt@nigdzie.pl", "wrong-password").content.decode()
    other_portal = _login(portal_b.client(), portal_a.owner.email, portal_a.password).content.decode()
    message = "The e-mail address or password is incorrect, or this account has no access to this portal."
    for body in (wrong_password, no_account, other_portal):
        assert message in body


def test_refusal_is_in_polish_for_polish_users(portal_a):
    response = portal_a.client().post("/auth/login/", {"username": portal_a.owner.email, "password": "zle"},
                                      HTTP_ACCEPT_LANGUAGE="pl")
    assert "Nieprawidłowy adres e-mail lub hasło" in response.content.decode()


def test_session_of_portal_a_is_worthless_on_portal_b_even_with_the_cookie_copied(portal_a, portal_b):
    client_a = portal_a.client(logged_in=True)
    assert client_a.get("/").status_code == 200
    stolen = client_a.cookies["sessionid"].value

    client_b = portal_b.client()
    client_b.cookies["sessionid"] = stolen
    response = client_b.get("/")
    assert response.status_code == 302
    assert "/auth/login/" in response["Location"]


def test_spoofed_host_header_does_not_carry_a_session_to_another_portal(portal_a, portal_b):
    client = portal_a.client(logged_in=True)
    response = client.get("/", HTTP_HOST=portal_b.host)
    assert response.status_code == 302
    assert portal_b.tenant.name not in client.get("/", HTTP_HOST=portal_b.host).content.decode()


def test_session_cookie_is_host_only(portal_a):
    client = portal_a.client()
    _login(client, portal_a.owner.email, portal_a.password)
    cookie = client.cookies["sessionid"]
    assert cookie["domain"] == ""
    assert cookie["httponly"]


def test_portal_home_lists_only_this_portals_people(portal_a, portal_b):
    body = portal_a.client(logged_in=True).get("/").content.decode()
    assert portal_a.owner.email in body
    assert portal_b.owner.email not in body


def test_deactivated_member_loses_the_session_at_the_next_request(portal_a):
    from django_tenants.utils import tenant_context

    from identity.members.models import Membership

    client = portal_a.client(logged_in=True)
    assert client.get("/").status_code == 200
    with tenant_context(portal_a.tenant):
        Membership.objects.filter(user=portal_a.owner).update(is_active=False)
    assert client.get("/").status_code == 302


def test_public_site_admits_platform_staff_only(portal_a):
    from django.db import connection

    from identity.members.backends import PortalMemberBackend

    connection.set_schema_to_public()
    backend = PortalMemberBackend()
    assert backend.authenticate(None, username=portal_a.owner.email, password=portal_a.password) is None
