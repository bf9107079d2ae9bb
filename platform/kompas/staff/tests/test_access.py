"""Who reaches the staff console: platform staff with two-factor authentication, on the public host only."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from identity.accounts.models import User
from kompas.staff.tests.helpers import STAFF_EMAIL, STAFF_PASSWORD, code, public_client, sign_in
from tenants.models import AuditEvent, PartnerMember
from tenants.services import create_partner

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_the_public_sign_in(portals):
    response = public_client().get("/staff/?status=trial")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Fstaff%2F%3Fstatus%3Dtrial"


def test_staff_with_an_authenticator_sign_in_with_password_then_code(staff_device):
    client = public_client()
    password_step = client.post("/login/", {"username": STAFF_EMAIL.upper(), "password": STAFF_PASSWORD,
                                            "next": "/staff/audit/"})
    assert password_step["Location"] == "/login/two-factor/"
    assert client.get("/staff/").status_code == 302  # not signed in before the code
    assert client.post("/login/two-factor/", {"code": "000000"}).status_code == 400
    done = client.post("/login/two-factor/", {"code": code(staff_device, steps_ahead=1)})
    assert done["Location"] == "/staff/audit/"
    assert client.get("/staff/audit/").status_code == 200
    signed_in = AuditEvent.objects.get(action="staff.signed_in")
    assert signed_in.actor_kind == AuditEvent.ActorKind.STAFF and signed_in.details == {"two_factor": True}


def test_staff_without_an_authenticator_must_set_one_up_first(staff_user):
    client = public_client()
    assert sign_in(client, None)["Location"] == "/staff/"
    assert client.get("/staff/")["Location"] == "/staff/two-factor/setup/"
    assert client.get("/staff/audit/")["Location"] == "/staff/two-factor/setup/"
    page = client.get("/staff/two-factor/setup/")
    assert page.status_code == 200 and "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=staff_user, confirmed=False)
    done = client.post("/staff/two-factor/setup/", {"code": code(device)})
    assert done.status_code == 200 and 'data-testid="recovery-codes"' in done.content.decode()
    assert client.get("/staff/").status_code == 200  # the session is verified by the enrolment
    assert AuditEvent.objects.filter(action="staff.two_factor_enrolled", actor=staff_user).exists()


def test_a_password_alone_never_opens_the_console_nor_replaces_the_authenticator(staff_device):
    client = public_client()
    # The data admin's own sign-in asks for no code; the console still does.
    assert client.login(username=STAFF_EMAIL, password=STAFF_PASSWORD)
    assert client.get("/staff/")["Location"] == "/login/two-factor/?next=%2Fstaff%2F"
    assert client.get("/staff/two-factor/setup/")["Location"].startswith("/login/two-factor/")
    assert not TOTPDevice.objects.filter(user=staff_device.user, confirmed=False).exists()
    verified = client.post("/login/two-factor/?next=/staff/", {"code": code(staff_device)})
    assert verified["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200


def test_a_partner_member_signs_in_but_is_refused_with_the_reason(portals):
    partner = create_partner(name="Agencja Wdrożeniowa Orzeł", slug="orzel", email="biuro@orzel.pl")
    user = User.objects.create_user(email="piotr@orzel.pl", password=STAFF_PASSWORD)
    PartnerMember.objects.create(partner=partner, user=user, role=PartnerMember.Role.ADMIN)
    client = public_client()
    assert sign_in(client, None, email=user.email, next_url="/partners/")["Location"] == "/partners/"
    refused = client.get("/staff/")
    assert refused.status_code == 403
    assert "The staff console is for the platform&#x27;s own staff only" in refused.content.decode()
    assert client.get("/staff/two-factor/setup/").status_code == 403


def test_a_portal_administrator_cannot_sign_in_on_the_public_host_nor_reach_staff_pages(portal_a):
    client = public_client()
    refused = client.post("/login/", {"username": portal_a.owner.email, "password": portal_a.password})
    assert refused.status_code == 400
    assert "cannot sign in here" in refused.content.decode()
    assert client.get("/staff/")["Location"].startswith("/login/")
    # Their portal session is worth nothing on the public host either.
    portal_session = portal_a.client(logged_in=True)
    assert portal_session.get("/staff/", HTTP_HOST="kompas.test")["Location"].startswith("/login/")


def test_the_console_and_its_sign_in_do_not_exist_on_a_portal_host(staff_client, portal_a):
    assert staff_client.get("/staff/").status_code == 200
    session_cookie = staff_client.cookies["sessionid"].value
    spoofed = Client(HTTP_HOST=portal_a.host)
    spoofed.cookies["sessionid"] = session_cookie  # the staff session, sent to a portal's host
    for path in ("/staff/", "/staff/audit/", f"/staff/tenants/{portal_a.tenant.pk}/", "/login/"):
        assert spoofed.get(path).status_code == 404, path
    assert spoofed.post(f"/staff/tenants/{portal_a.tenant.pk}/actions/suspend/",
                        {"reason": "próba z hosta portalu"}).status_code in (403, 404)
    portal_a.tenant.refresh_from_db()
    assert portal_a.tenant.status != "suspended"


def test_a_portal_admin_session_cannot_use_staff_urls_even_with_a_spoofed_public_host(portal_a):
    client = portal_a.client(logged_in=True)
    cookie = client.cookies["sessionid"].value
    public = public_client()
    public.cookies["sessionid"] = cookie
    response = public.post(f"/staff/tenants/{portal_a.tenant.pk}/actions/suspend/", {"reason": "chcę zawiesić"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    portal_a.tenant.refresh_from_db()
    assert portal_a.tenant.status != "suspended"


def test_sign_in_honours_only_a_safe_next(staff_user):
    client = public_client()
    response = sign_in(client, None, next_url="https://evil.example/steal")
    assert response["Location"] == "/"
    other = public_client()
    assert sign_in(other, None, next_url="/partners/?tab=clients")["Location"] == "/partners/?tab=clients"


def test_five_failures_lock_the_address_even_for_the_right_password(staff_device):
    client = public_client()
    for _attempt in range(5):
        assert client.post("/login/", {"username": STAFF_EMAIL, "password": "zle-haslo-123"}).status_code == 400
    locked = client.post("/login/", {"username": STAFF_EMAIL, "password": STAFF_PASSWORD})
    assert locked.status_code == 400 and "Too many failed sign-in attempts" in locked.content.decode()


def test_logout_ends_the_staff_session(staff_client):
    assert staff_client.post("/logout/")["Location"] == "/login/"
    assert staff_client.get("/staff/")["Location"].startswith("/login/")
