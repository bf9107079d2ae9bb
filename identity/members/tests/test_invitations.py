"""Inviting people: real e-mail over SMTP, a seat held while pending, accepted once, per portal."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from billing.models import Plan, Subscription
from identity.accounts.models import User
from identity.members.models import Invitation, Membership, Role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _run_after_commit_callbacks(django_capture_on_commit_callbacks):
    """The e-mail leaves after commit; tests run inside a transaction, so run those callbacks."""
    global _after_commit
    _after_commit = django_capture_on_commit_callbacks


def _invite(portal, email: str, role_code: str = "consultant", language: str = "en"):
    with tenant_context(portal.tenant):
        role = Role.objects.get(code=role_code)
    with _after_commit(execute=True):
        return portal.client(logged_in=True).post("/settings/people/", {"email": email, "role": role.pk},
                                                  HTTP_ACCEPT_LANGUAGE=language)


def _link(message) -> str:
    body = message.get_content()
    return re.search(r"https?://\S+/auth/invitation/\S+/", body).group(0)


def test_an_invited_person_gets_an_email_creates_an_account_and_joins_with_the_role(portal_a, smtp_inbox):
    response = _invite(portal_a, "nowa.osoba@alfa-handel.pl")
    assert response.status_code == 302
    [message] = smtp_inbox.wait_for(1)
    assert message["To"] == "nowa.osoba@alfa-handel.pl"
    assert "Alfa Handel" in message["Subject"]
    link = _link(message)
    assert link.startswith("http://alfa.kompas.test/")

    path = link.split("alfa.kompas.test", 1)[1]
    guest = Client(HTTP_HOST=portal_a.host, HTTP_ACCEPT_LANGUAGE="en")
    assert "Create your account to accept" in guest.get(path).content.decode()
    response = guest.post(path, {"full_name": "Nowa Osoba", "password": "Bezpieczne-haslo-2026"})
    assert response.status_code == 302
    assert guest.get("/").status_code == 200  # signed in, inside the portal
    with tenant_context(portal_a.tenant):
        membership = Membership.objects.select_related("role").get(user__email="nowa.osoba@alfa-handel.pl")
        assert membership.role.code == "consultant"
    assert guest.get(path).status_code == 404  # used once


def test_the_invitation_email_speaks_the_portals_language(portal_a, smtp_inbox):
    _invite(portal_a, "jan.nowy@alfa-handel.pl")
    [message] = smtp_inbox.wait_for(1)
    body = message.get_content()
    assert "zaprasza" in message["Subject"] or "zaprasza" in body


def test_someone_with_an_account_accepts_with_their_password(portal_a, portal_b, smtp_inbox):
    _invite(portal_a, portal_b.owner.email)
    path = _link(smtp_inbox.wait_for(1)[0]).split("alfa.kompas.test", 1)[1]
    guest = Client(HTTP_HOST=portal_a.host, HTTP_ACCEPT_LANGUAGE="en")
    wrong = guest.post(path, {"password": "zle-haslo"})
    assert wrong.status_code == 400 and "The password is incorrect." in wrong.content.decode()
    assert guest.post(path, {"password": portal_b.password}).status_code == 302
    with tenant_context(portal_a.tenant):
        assert Membership.objects.filter(user=portal_b.owner, is_active=True).exists()


def test_a_pending_invitation_holds_a_seat_and_a_full_plan_refuses_the_next(portal_a, smtp_inbox):
    Subscription.objects.filter(tenant=portal_a.tenant).update(plan=Plan.objects.get(code="start"),
                                                                status=Subscription.Status.ACTIVE)
    assert _invite(portal_a, "pierwszy@alfa-handel.pl").status_code == 302
    refused = _invite(portal_a, "drugi@alfa-handel.pl")
    assert refused.status_code == 400
    assert "allows 2 users and 2 are in use" in refused.content.decode()
    with tenant_context(portal_a.tenant):
        assert not Invitation.objects.filter(email="drugi@alfa-handel.pl").exists()
        pending = Invitation.objects.get(email="pierwszy@alfa-handel.pl")
    client = portal_a.client(logged_in=True)
    client.post(f"/settings/people/invitations/{pending.pk}/revoke/")
    assert _invite(portal_a, "drugi@alfa-handel.pl").status_code == 302


def test_an_invitation_of_portal_a_means_nothing_on_portal_b(portal_a, portal_b, smtp_inbox):
    _invite(portal_a, "ktos@alfa-handel.pl")
    path = _link(smtp_inbox.wait_for(1)[0]).split("alfa.kompas.test", 1)[1]
    on_b = Client(HTTP_HOST=portal_b.host, HTTP_ACCEPT_LANGUAGE="en")
    assert on_b.get(path).status_code == 404
    assert on_b.post(path, {"full_name": "Intruz", "password": "Bezpieczne-haslo-2026"}).status_code == 404
    assert not User.objects.filter(email="ktos@alfa-handel.pl").exists()


def test_members_without_admin_rights_cannot_invite(portal_a, smtp_inbox):
    from identity.members.services import add_member

    user = User.objects.create_user(email="handlowiec@alfa-handel.pl", password=portal_a.password)
    with tenant_context(portal_a.tenant):
        add_member(user=user)
        client = Client(HTTP_HOST=portal_a.host)
        assert client.login(username=user.email, password=portal_a.password)
    assert client.post("/settings/people/", {"email": "x@alfa-handel.pl", "role": 1}).status_code == 403
    assert smtp_inbox.messages == []


def test_deactivating_frees_the_seat_and_reactivating_takes_it_back(portal_a):
    from identity.members.services import add_member

    user = User.objects.create_user(email="sezonowy@alfa-handel.pl", password="x", full_name="Jan Sezonowy")
    with tenant_context(portal_a.tenant):
        membership = add_member(user=user)
    client = portal_a.client(logged_in=True)
    client.post(f"/settings/people/{membership.pk}/active/", {"active": "0"})
    with tenant_context(portal_a.tenant):
        assert not Membership.objects.get(pk=membership.pk).is_active
    client.post(f"/settings/people/{membership.pk}/active/", {"active": "1"})
    with tenant_context(portal_a.tenant):
        assert Membership.objects.get(pk=membership.pk).is_active
