"""Two-factor authentication, its enforcement by a portal, lockouts and the login history."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import tenant_context

from identity.accounts.models import User
from identity.members.models import LoginEvent, SecurityPolicy
from identity.members.services import add_member

pytestmark = pytest.mark.django_db


def _code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The app's code now, or the next one (a code cannot be used twice, like the real thing)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = timezone.now().timestamp() + steps_ahead * device.step
    return f"{totp.token():06d}"


def _enrol(client: Client) -> tuple[TOTPDevice, list[str]]:
    page = client.get("/auth/two-factor/setup/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "<svg" in page  # the QR code, drawn inline
    device = TOTPDevice.objects.filter(confirmed=False).latest("id")
    done = client.post("/auth/two-factor/setup/", {"code": _code(device)}, HTTP_ACCEPT_LANGUAGE="en")
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", done.content.decode())
    device.refresh_from_db()
    assert device.confirmed
    return device, codes


def _password_step(portal, email: str, password: str, language: str = "en"):
    client = Client(HTTP_HOST=portal.host, HTTP_ACCEPT_LANGUAGE=language)
    return client, client.post("/auth/login/", {"username": email, "password": password})


def test_enrolment_gives_ten_recovery_codes_and_login_then_asks_for_a_code(portal_a, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp slows retries after a wrong code; not under test here
    device, codes = _enrol(portal_a.client(logged_in=True))
    assert len(codes) == 10

    client, response = _password_step(portal_a, portal_a.owner.email, portal_a.password)
    assert response["Location"] == "/auth/two-factor/"
    assert client.get("/").status_code == 302  # not signed in yet
    wrong = client.post("/auth/two-factor/", {"code": "000000"})
    assert wrong.status_code == 400 and "This code is not valid" in wrong.content.decode()
    assert client.post("/auth/two-factor/", {"code": _code(device, steps_ahead=1)}).status_code == 302
    assert client.get("/").status_code == 200


def test_a_recovery_code_works_exactly_once(portal_a):
    _device, codes = _enrol(portal_a.client(logged_in=True))
    client, _ = _password_step(portal_a, portal_a.owner.email, portal_a.password)
    assert client.post("/auth/two-factor/", {"code": codes[0]}).status_code == 302
    again, _ = _password_step(portal_a, portal_a.owner.email, portal_a.password)
    assert again.post("/auth/two-factor/", {"code": codes[0]}).status_code == 400


def test_two_factor_belongs_to_the_account_and_is_asked_on_every_portal(portal_a, portal_b):
    with tenant_context(portal_b.tenant):
        add_member(user=portal_a.owner)
    _enrol(portal_a.client(logged_in=True))
    _client, response = _password_step(portal_b, portal_a.owner.email, portal_a.password)
    assert response["Location"] == "/auth/two-factor/"


def test_a_portal_that_requires_two_factor_sends_members_to_set_it_up_after_the_deadline(portal_a):
    user = User.objects.create_user(email="bez.2fa@alfa-handel.pl", password=portal_a.password)
    with tenant_context(portal_a.tenant):
        add_member(user=user)
        policy = SecurityPolicy.current()
        policy.require_two_factor, policy.two_factor_deadline = True, timezone.now() + timedelta(days=3)
        policy.save()
    client, _ = _password_step(portal_a, user.email, portal_a.password)
    home = client.get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert home.status_code == 200
    assert "requires two-factor authentication from" in home.content.decode()  # reminder during the grace

    with tenant_context(portal_a.tenant):
        SecurityPolicy.objects.update(two_factor_deadline=timezone.now() - timedelta(minutes=1))
    blocked = client.get("/settings/billing/")
    assert blocked.status_code == 302 and blocked["Location"] == "/auth/two-factor/setup/"
    _enrol(client)
    assert client.get("/").status_code == 200


def test_repeated_failures_lock_the_address_with_the_same_message_for_unknown_addresses(portal_a):
    messages = []
    for email in (portal_a.owner.email, "nikogo@takiego.pl"):
        for _attempt in range(5):
            _password_step(portal_a, email, "zle-haslo")
        _client, response = _password_step(portal_a, email, portal_a.password if "alfa" in email else "x")
        assert response.status_code == 400
        messages.append(re.sub(r"\d+ minutes", "N minutes", response.content.decode()))
    assert all("Too many failed sign-in attempts for this address" in page for page in messages)
    # even the right password is refused while locked
    _client, response = _password_step(portal_a, portal_a.owner.email, portal_a.password)
    assert response.status_code == 400


def test_an_administrator_unlocks_an_address(portal_a):
    user = User.objects.create_user(email="zablokowany@alfa-handel.pl", password=portal_a.password)
    with tenant_context(portal_a.tenant):
        add_member(user=user)
    for _attempt in range(5):
        _password_step(portal_a, user.email, "zle-haslo")
    admin = portal_a.client(logged_in=True)
    page = admin.get("/settings/security/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert user.email in page
    admin.post("/settings/security/", {"action": "unlock", "email": user.email})
    _client, response = _password_step(portal_a, user.email, portal_a.password)
    assert response.status_code == 302


def test_the_lock_ends_after_the_cool_down(portal_a):
    from identity.members.security import locked_until

    for _attempt in range(5):
        _password_step(portal_a, "ktos@alfa-handel.pl", "zle")
    with tenant_context(portal_a.tenant):
        assert locked_until("ktos@alfa-handel.pl") is not None
        assert locked_until("ktos@alfa-handel.pl", now=timezone.now() + timedelta(minutes=16)) is None


def test_login_history_records_attempts_and_exports_for_administrators(portal_a):
    _password_step(portal_a, portal_a.owner.email, "zle-haslo")
    _password_step(portal_a, portal_a.owner.email, portal_a.password)
    with tenant_context(portal_a.tenant):
        outcomes = list(LoginEvent.objects.filter(email=portal_a.owner.email).values_list("outcome", flat=True))
    assert outcomes[:2] == ["success", "bad_credentials"]
    export = portal_a.client(logged_in=True).get("/settings/security/?export=csv")
    assert export["Content-Type"].startswith("text/csv")
    assert "bad_credentials" in export.content.decode()


def test_history_of_portal_a_is_not_visible_on_portal_b(portal_a, portal_b):
    _password_step(portal_a, portal_a.owner.email, "zle-haslo")
    export = portal_b.client(logged_in=True).get("/settings/security/?export=csv").content.decode()
    assert portal_a.owner.email not in export
    spoofed = portal_a.client(logged_in=True).get("/settings/security/?export=csv", HTTP_HOST=portal_b.host)
    assert spoofed.status_code == 302


def test_requiring_two_factor_is_an_administrators_decision(portal_a):
    user = User.objects.create_user(email="zwykly@alfa-handel.pl", password=portal_a.password)
    with tenant_context(portal_a.tenant):
        add_member(user=user)
    client, _ = _password_step(portal_a, user.email, portal_a.password)
    assert client.post("/settings/security/", {"action": "policy", "require_two_factor": "on"}).status_code == 403
    admin = portal_a.client(logged_in=True)
    admin.post("/settings/security/", {"action": "policy", "require_two_factor": "on", "grace_days": "14"})
    with tenant_context(portal_a.tenant):
        policy = SecurityPolicy.current()
    assert policy.require_two_factor
    assert 13 <= (policy.two_factor_deadline - timezone.now()).days <= 14
