"""Asking to join: the address is confirmed by e-mail, an administrator decides, nothing is revealed."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from identity.members.models import JoinRequest, Membership, Role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _after_commit(django_capture_on_commit_callbacks):
    global run_after_commit
    run_after_commit = django_capture_on_commit_callbacks


def _ask(portal, email: str, name: str = "Ewa Kandydatka") -> str:
    client = Client(HTTP_HOST=portal.host, HTTP_ACCEPT_LANGUAGE="en")
    with run_after_commit(execute=True):
        response = client.post("/auth/join/", {"full_name": name, "email": email,
                                               "message": "Pracuję w dziale sprzedaży."})
    assert response.status_code == 200
    return response.content.decode()


def _confirm_link(smtp_inbox, count: int) -> str:
    body = smtp_inbox.wait_for(count)[count - 1].get_content()
    return re.search(r"http://\S+?(/auth/join/\S+/)", body).group(1)


def _decide(portal, email: str, decision: str, role_code: str = "consultant"):
    with tenant_context(portal.tenant):
        join = JoinRequest.objects.get(email=email)
        role = Role.objects.get(code=role_code)
    with run_after_commit(execute=True):
        return portal.client(logged_in=True).post(f"/settings/people/join-requests/{join.pk}/",
                                                  {"decision": decision, "role": role.pk})


def test_someone_with_an_account_asks_confirms_and_is_accepted(portal_a, portal_b, smtp_inbox):
    page = _ask(portal_a, portal_b.owner.email)
    assert "a confirmation link is on its way" in page
    link = _confirm_link(smtp_inbox, 1)
    people = portal_a.client(logged_in=True).get("/settings/people/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert portal_b.owner.email not in people  # not confirmed yet: administrators do not see it
    assert Client(HTTP_HOST=portal_a.host).get(link).status_code == 200
    people = portal_a.client(logged_in=True).get("/settings/people/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Requests to join" in people and portal_b.owner.email in people
    assert _decide(portal_a, portal_b.owner.email, "approve").status_code == 302
    with tenant_context(portal_a.tenant):
        membership = Membership.objects.select_related("role").get(user=portal_b.owner)
    assert membership.role.code == "consultant"
    assert "http://alfa.kompas.test/auth/login/" in smtp_inbox.wait_for(2)[1].get_content()


def test_someone_without_an_account_gets_an_invitation_when_accepted(portal_a, smtp_inbox):
    _ask(portal_a, "nowa.kandydatka@example.pl")
    Client(HTTP_HOST=portal_a.host).get(_confirm_link(smtp_inbox, 1))
    _decide(portal_a, "nowa.kandydatka@example.pl", "approve")
    invitation = smtp_inbox.wait_for(2)[1]
    assert "/auth/invitation/" in invitation.get_content()


def test_a_declined_request_creates_nothing(portal_a, smtp_inbox):
    _ask(portal_a, "odrzucony@example.pl")
    Client(HTTP_HOST=portal_a.host).get(_confirm_link(smtp_inbox, 1))
    _decide(portal_a, "odrzucony@example.pl", "reject")
    with tenant_context(portal_a.tenant):
        assert JoinRequest.objects.get(email="odrzucony@example.pl").status == "rejected"
        assert not Membership.objects.filter(user__email="odrzucony@example.pl").exists()


def test_members_and_repeated_requests_get_the_same_page_and_no_email(portal_a, smtp_inbox):
    page_member = _ask(portal_a, portal_a.owner.email)
    page_new = _ask(portal_a, "ktokolwiek@example.pl")
    page_repeat = _ask(portal_a, "ktokolwiek@example.pl")
    strip = lambda page: re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)  # noqa: E731
    assert strip(page_member) == strip(page_new) == strip(page_repeat)
    assert len(smtp_inbox.wait_for(2, timeout=1)) == 1


def test_a_confirmation_link_of_portal_a_means_nothing_on_portal_b(portal_a, portal_b, smtp_inbox):
    _ask(portal_a, "krzyzowy@example.pl")
    link = _confirm_link(smtp_inbox, 1)
    assert Client(HTTP_HOST=portal_b.host).get(link).status_code == 404
    with tenant_context(portal_a.tenant):
        assert JoinRequest.objects.get(email="krzyzowy@example.pl").status == "unconfirmed"


def test_only_administrators_decide(portal_a, smtp_inbox):
    from identity.accounts.models import User
    from identity.members.services import add_member

    _ask(portal_a, "czeka@example.pl")
    Client(HTTP_HOST=portal_a.host).get(_confirm_link(smtp_inbox, 1))
    user = User.objects.create_user(email="zwykly.czlonek@alfa-handel.pl", password=portal_a.password)
    with tenant_context(portal_a.tenant):
        add_member(user=user)
        join = JoinRequest.objects.get(email="czeka@example.pl")
        client = Client(HTTP_HOST=portal_a.host)
        assert client.login(username=user.email, password=portal_a.password)
    assert client.post(f"/settings/people/join-requests/{join.pk}/", {"decision": "reject"}).status_code == 403
