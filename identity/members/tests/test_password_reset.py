"""Forgotten password: a link by e-mail (real SMTP) for members of this portal only, used once."""

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _ask(portal, email: str) -> Client:
    client = Client(HTTP_HOST=portal.host, HTTP_ACCEPT_LANGUAGE="en")
    response = client.post("/auth/password-reset/", {"email": email})
    assert response.status_code == 302 and response["Location"] == "/auth/password-reset/sent/"
    return client


def test_a_member_gets_a_link_and_sets_a_new_password(portal_a, smtp_inbox):
    client = _ask(portal_a, portal_a.owner.email.upper())
    [message] = smtp_inbox.wait_for(1)
    assert message["To"] == portal_a.owner.email
    link = re.search(r"http://alfa\.kompas\.test(/auth/password-reset/\S+/\S+/)", message.get_content()).group(1)
    form_page = client.get(link, follow=True)
    assert "Set a new password" in form_page.content.decode()
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": "Nowe-Haslo-Jesien-2026",
                                                        "new_password2": "Nowe-Haslo-Jesien-2026"})
    assert done.status_code == 302
    fresh = Client(HTTP_HOST=portal_a.host)
    assert fresh.post("/auth/login/", {"username": portal_a.owner.email,
                                       "password": "Nowe-Haslo-Jesien-2026"}).status_code == 302
    again = client.get(link, follow=True).content.decode()
    assert "This link is no longer valid" in again
    from identity.accounts.models import User

    user = User.objects.get(pk=portal_a.owner.pk)
    user.set_password(portal_a.password)  # the session fixtures share this account
    user.save()


def test_no_email_for_unknown_addresses_or_other_portals_members_and_the_same_page(portal_a, portal_b, smtp_inbox):
    _ask(portal_a, "nikt@nigdzie.pl")
    _ask(portal_a, portal_b.owner.email)  # an account, but not a member of portal A
    assert smtp_inbox.wait_for(1, timeout=0.5) == []


def test_the_login_page_links_to_the_reset(portal_a):
    body = Client(HTTP_HOST=portal_a.host, HTTP_ACCEPT_LANGUAGE="en").get("/auth/login/").content.decode()
    assert 'href="/auth/password-reset/"' in body
