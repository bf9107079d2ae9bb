"""The partner portal: client portals created or linked, the partner's view, the client's right to revoke."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import tenant_context

from billing import limits
from billing.models import Resource
from identity.accounts.models import PortalAccess, User
from identity.members.models import Membership
from kompas.partners.tests.conftest import PASSWORD, portal_client, public_client
from tenants.models import AuditEvent, PartnerLinkRequest, PartnerMember, Tenant

pytestmark = pytest.mark.django_db


def _create_client(agency, after_commit, *, slug="klient-jeden", email="wlasciciel@klient-jeden.pl", managers=None):
    form = {"name": "Klient Jeden Sp. z o.o.", "slug": slug, "owner_email": email, "language": "en",
            "managers": managers if managers is not None else [agency.admin_member.pk]}
    with after_commit(execute=True):
        return public_client(agency.admin).post(f"/partners/{agency.partner.slug}/clients/new/", form)


def _link_in(message, host: str) -> str:
    return re.search(rf"https?://{re.escape(host)}(/\S+/)", message.get_content()).group(1)


# --- Creating a client portal ---------------------------------------------------------------------

def test_a_created_client_portal_is_owned_by_the_invited_client_and_the_partner_access_is_revocable(
        agency, after_commit, smtp_inbox):
    response = _create_client(agency, after_commit)
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant = Tenant.objects.get(slug="klient-jeden")
    assert tenant.partner_id == agency.partner.pk
    assert AuditEvent.objects.filter(action="partner.client_created", tenant=tenant, partner=agency.partner,
                                     actor_kind="partner").exists()

    # The owner's invitation, in the portal's language, on the portal's own host.
    [message] = smtp_inbox.wait_for(1)
    assert message["To"] == "wlasciciel@klient-jeden.pl"
    assert "Wdrożenia CRM" in message["Subject"] and "owner" in message.get_content()
    host = f"klient-jeden.{settings.BASE_DOMAIN}"
    owner_browser = Client(HTTP_HOST=host, HTTP_ACCEPT_LANGUAGE="en")
    accepted = owner_browser.post(_link_in(message, host), {"full_name": "Ewa Właścicielka",
                                                            "password": "Bardzo-dobre-haslo-77"})
    assert accepted.status_code == 302
    with tenant_context(tenant):
        owner = Membership.objects.select_related("role").get(user__email="wlasciciel@klient-jeden.pl")
        assert (owner.is_owner, owner.is_partner_access, owner.role.code) == (True, False, "administrator")
        partner_access = Membership.objects.get(user=agency.admin)
        assert partner_access.is_partner_access and partner_access.has_admin_rights
    # The partner's access takes no seat of the client's.
    assert limits.usage_of(tenant, Resource.SEATS) == 1

    # The partner's admin works in the portal with the same account...
    partner_browser = portal_client(tenant, agency.admin)
    assert partner_browser.get("/").status_code == 200
    # ...until the owner revokes the partner.
    page = owner_browser.get("/settings/partner/").content.decode()
    assert agency.admin.email in page and "Wdrożenia CRM" in page
    assert owner_browser.post("/settings/partner/end/").status_code == 302
    assert partner_browser.get("/").status_code == 302
    assert Tenant.objects.get(pk=tenant.pk).partner_id is None


def test_the_address_is_checked_like_at_signup_and_nothing_is_created_on_a_refusal(agency, after_commit, portal_a):
    response = _create_client(agency, after_commit, slug=portal_a.tenant.slug)
    assert response.status_code == 400
    assert "This portal address is already taken" in response.content.decode()
    response = _create_client(agency, after_commit, slug="www")
    body = response.content.decode()
    assert "This portal address is reserved" in body
    assert Tenant.objects.filter(partner=agency.partner).count() == 0


# --- Linking an existing portal -----------------------------------------------------------------

def _ask(agency, after_commit, address: str, client=None):
    with after_commit(execute=True):
        return (client or public_client(agency.admin)).post(
            f"/partners/{agency.partner.slug}/link/", {"address": address, "message": "Prowadzimy wdrożenie."},
            follow=True)


def test_asking_to_link_answers_the_same_for_an_address_that_does_not_exist(agency, after_commit, portal_a,
                                                                            smtp_inbox):
    existing = _ask(agency, after_commit, portal_a.tenant.slug)
    missing = _ask(agency, after_commit, "nie-ma-takiego-portalu")

    def visible(response):  # the page without the CSRF token, which differs per render
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())

    assert existing.status_code == missing.status_code == 200
    assert visible(existing) == visible(missing)
    assert "If a portal with this address exists" in visible(existing)
    assert portal_a.tenant.name not in visible(existing)
    [request] = PartnerLinkRequest.objects.filter(partner=agency.partner)
    assert request.tenant_id == portal_a.tenant.pk and request.state == "pending"
    [message] = smtp_inbox.wait_for(1)
    assert message["To"] == portal_a.owner.email
    assert f"{portal_a.host}/settings/partner/" in message.get_content()


def test_the_portal_admin_approves_a_link_request_and_the_partner_gets_access(agency, after_commit, portal_a):
    helper = agency.add("pomocnik@wdrozenia-crm.pl")
    _ask(agency, after_commit, f"http://{portal_a.host}/")
    link_request = PartnerLinkRequest.objects.get(partner=agency.partner)
    owner = portal_a.client(logged_in=True)
    assert "Wdrożenia CRM" in owner.get("/settings/partner/").content.decode()
    with after_commit(execute=True):
        response = owner.post(f"/settings/partner/requests/{link_request.pk}/", {"decision": "approve"})
    assert response.status_code == 302
    link_request.refresh_from_db()
    assert link_request.state == "approved" and link_request.decided_by_id == portal_a.owner.pk
    assert Tenant.objects.get(pk=portal_a.tenant.pk).partner_id == agency.partner.pk
    with tenant_context(portal_a.tenant):
        assert Membership.objects.get(user=agency.admin).is_partner_access  # the admin who asked
        assert not Membership.objects.filter(user=helper.user).exists()  # members only when an admin gives it
    dashboard = public_client(agency.admin).get(f"/partners/{agency.partner.slug}/").content.decode()
    assert portal_a.tenant.name in dashboard and "Open portal" in dashboard
    assert AuditEvent.objects.filter(action="partner.link_approved", tenant=portal_a.tenant).exists()


def test_the_portal_admin_declines_and_nothing_is_linked(agency, after_commit, portal_a):
    _ask(agency, after_commit, portal_a.tenant.slug)
    link_request = PartnerLinkRequest.objects.get(partner=agency.partner)
    owner = portal_a.client(logged_in=True)
    with after_commit(execute=True):
        owner.post(f"/settings/partner/requests/{link_request.pk}/", {"decision": "decline"})
    link_request.refresh_from_db()
    assert link_request.state == "declined"
    assert Tenant.objects.get(pk=portal_a.tenant.pk).partner_id is None
    with tenant_context(portal_a.tenant):
        assert not Membership.objects.filter(user=agency.admin).exists()
    # Asking again at once sends nothing new: no e-mail floods after a "no".
    _ask(agency, after_commit, portal_a.tenant.slug)
    assert PartnerLinkRequest.objects.filter(partner=agency.partner).count() == 1


def test_an_admin_of_portal_a_cannot_decide_a_request_addressed_to_portal_b(agency, after_commit, portal_a,
                                                                            portal_b):
    _ask(agency, after_commit, portal_b.tenant.slug)
    link_request = PartnerLinkRequest.objects.get(partner=agency.partner)
    owner_a = portal_a.client(logged_in=True)
    assert "Wdrożenia CRM" not in owner_a.get("/settings/partner/").content.decode()
    for host in (portal_a.host, portal_b.host, f"{portal_b.host}:443", portal_b.host.upper()):
        response = owner_a.post(f"/settings/partner/requests/{link_request.pk}/", {"decision": "approve"},
                                HTTP_HOST=host)
        assert response.status_code in (302, 403, 404), host
        if response.status_code == 302:
            assert "/auth/login/" in response["Location"] or host == portal_a.host
    link_request.refresh_from_db()
    assert link_request.state == "pending"
    assert Tenant.objects.get(pk=portal_b.tenant.pk).partner_id is None


# --- Revoking -------------------------------------------------------------------------------------

def _linked(agency, after_commit, portal):
    _ask(agency, after_commit, portal.tenant.slug)
    link_request = PartnerLinkRequest.objects.get(partner=agency.partner, tenant=portal.tenant)
    with after_commit(execute=True):
        portal.client(logged_in=True).post(f"/settings/partner/requests/{link_request.pk}/",
                                           {"decision": "approve"})
    return Tenant.objects.get(pk=portal.tenant.pk)


def test_revoking_one_person_ends_their_sessions_and_sign_in(agency, after_commit, portal_a):
    tenant = _linked(agency, after_commit, portal_a)
    partner_browser = portal_client(tenant, agency.admin)
    assert partner_browser.get("/").status_code == 200
    with tenant_context(tenant):
        membership = Membership.objects.get(user=agency.admin)
    response = portal_a.client(logged_in=True).post(f"/settings/partner/access/{membership.pk}/revoke/")
    assert response.status_code == 302
    assert partner_browser.get("/").status_code == 302  # the open session is over
    again = Client(HTTP_HOST=portal_a.host)
    with tenant_context(tenant):
        assert not again.login(username=agency.admin.email, password=PASSWORD)  # and no new one
    assert not PortalAccess.objects.get(user=agency.admin, tenant=tenant).is_active
    assert Tenant.objects.get(pk=tenant.pk).partner_id == agency.partner.pk  # still the partner's client
    assert AuditEvent.objects.filter(action="partner.access_revoked", tenant=tenant).exists()


def test_ending_the_partnership_unlinks_audits_and_tells_the_partner(agency, after_commit, portal_a, smtp_inbox):
    tenant = _linked(agency, after_commit, portal_a)
    smtp_inbox.messages.clear()
    with after_commit(execute=True):
        portal_a.client(logged_in=True).post("/settings/partner/end/")
    assert Tenant.objects.get(pk=tenant.pk).partner_id is None
    with tenant_context(tenant):
        assert not Membership.objects.get(user=agency.admin).is_active
    event = AuditEvent.objects.get(action="partner.unlinked", tenant=tenant)
    assert event.partner_id == agency.partner.pk and agency.admin.email in event.details["revoked"]
    [message] = smtp_inbox.wait_for(1)
    assert agency.admin.email in message["To"] and "Alfa Handel" in message["Subject"]
    dashboard = public_client(agency.admin).get(f"/partners/{agency.partner.slug}/").content.decode()
    assert f"http://{portal_a.host}/" not in dashboard  # no longer among the clients
    # The partner cannot give itself access back: the portal is no longer its client.
    response = public_client(agency.admin).post(f"/partners/{agency.partner.slug}/clients/{tenant.pk}/access/",
                                                {"member": agency.admin_member.pk, "access": "1"})
    assert response.status_code == 404


def test_the_partners_people_cannot_decide_about_the_partner_on_the_client_portal(agency, after_commit, portal_a):
    tenant = _linked(agency, after_commit, portal_a)
    partner_browser = portal_client(tenant, agency.admin)
    assert partner_browser.get("/settings/partner/").status_code == 403
    assert partner_browser.post("/settings/partner/end/").status_code == 403
    assert Tenant.objects.get(pk=tenant.pk).partner_id == agency.partner.pk


# --- The partner's own side: its clients only, its people ------------------------------------------

def test_a_partner_member_sees_only_the_clients_of_its_own_partner(agency, other_agency, after_commit, portal_a,
                                                                   portal_b):
    _linked(agency, after_commit, portal_a)
    _linked(other_agency, after_commit, portal_b)
    mine = public_client(agency.admin)
    dashboard = mine.get(f"/partners/{agency.partner.slug}/").content.decode()
    assert portal_a.tenant.name in dashboard and portal_b.tenant.name not in dashboard
    # Another partner's pages, its client by a guessed id, its people: nothing.
    assert mine.get(f"/partners/{other_agency.partner.slug}/").status_code == 404
    assert mine.get(f"/partners/{other_agency.partner.slug}/members/").status_code == 404
    assert mine.get(f"/partners/{agency.partner.slug}/clients/{portal_b.tenant.pk}/access/").status_code == 404
    assert mine.post(f"/partners/{agency.partner.slug}/clients/{portal_b.tenant.pk}/access/",
                     {"member": agency.admin_member.pk, "access": "1"}).status_code == 404
    assert mine.post(f"/partners/{agency.partner.slug}/members/{other_agency.admin_member.pk}/active/",
                     {"active": "0"}).status_code == 404
    assert PartnerMember.objects.get(pk=other_agency.admin_member.pk).is_active
    with tenant_context(portal_b.tenant):
        assert not Membership.objects.filter(user=agency.admin).exists()
    # Another portal's link request cannot be decided from the partner side either (there is no such page),
    # and the client's page on portal A does not list requests addressed to portal B.
    other_request = PartnerLinkRequest.objects.get(partner=other_agency.partner)
    response = portal_a.client(logged_in=True).post(f"/settings/partner/requests/{other_request.pk}/",
                                                    {"decision": "decline"})
    assert response.status_code == 404


def test_people_who_are_not_partner_members_are_refused(agency, portal_a):
    anonymous = public_client().get(f"/partners/{agency.partner.slug}/")
    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"/login/?next=/partners/{agency.partner.slug}/"
    # A portal's owner has no session on the public host at all.
    owner = public_client(portal_a.owner)
    assert owner.get(f"/partners/{agency.partner.slug}/").status_code == 302
    assert owner.get("/partners/").status_code == 302
    # Platform staff are not partner members: no partner pages.
    staff = User.objects.create_user(email="obsluga@kompas.test", password=PASSWORD, is_staff=True)
    assert public_client(staff).get("/partners/").status_code == 403
    assert public_client(staff).get(f"/partners/{agency.partner.slug}/").status_code == 404
    # A partner's plain member sees the clients but cannot create, link or manage people.
    helper = agency.add("pomocnik@wdrozenia-crm.pl")
    browser = public_client(helper.user)
    assert browser.get(f"/partners/{agency.partner.slug}/").status_code == 200
    assert browser.get(f"/partners/{agency.partner.slug}/clients/new/").status_code == 403
    assert browser.get(f"/partners/{agency.partner.slug}/link/").status_code == 403
    assert browser.post(f"/partners/{agency.partner.slug}/members/", {"email": "x@y.pl", "role": "admin"}
                        ).status_code == 403
    # A deactivated partner member loses the pages at the next request.
    helper.is_active = False
    helper.save()
    assert browser.get(f"/partners/{agency.partner.slug}/").status_code == 302


def test_partner_admins_invite_members_change_roles_and_deactivate(agency, after_commit, portal_a, smtp_inbox):
    tenant = _linked(agency, after_commit, portal_a)
    smtp_inbox.messages.clear()
    admin = public_client(agency.admin)
    with after_commit(execute=True):
        response = admin.post(f"/partners/{agency.partner.slug}/members/",
                              {"email": "nowa@wdrozenia-crm.pl", "role": "member"})
    assert response.status_code == 302
    [message] = smtp_inbox.wait_for(1)
    path = _link_in(message, settings.BASE_DOMAIN)
    guest = public_client()
    assert guest.post(path, {"full_name": "Nowa Konsultantka", "password": "Mocne-haslo-partnera-1"}
                      ).status_code == 302
    assert guest.get(f"/partners/{agency.partner.slug}/").status_code == 200  # signed in on the public host
    new = PartnerMember.objects.get(partner=agency.partner, user__email="nowa@wdrozenia-crm.pl")
    assert guest.get(path).status_code == 404  # used once

    # Access to a client is given per person by an admin...
    admin.post(f"/partners/{agency.partner.slug}/clients/{tenant.pk}/access/", {"member": new.pk, "access": "1"})
    with tenant_context(tenant):
        assert Membership.objects.get(user=new.user).is_partner_access
    admin.post(f"/partners/{agency.partner.slug}/members/{new.pk}/role/", {"role": "admin"})
    assert PartnerMember.objects.get(pk=new.pk).role == "admin"
    # ...and deactivating the person ends it in every client portal.
    admin.post(f"/partners/{agency.partner.slug}/members/{new.pk}/active/", {"active": "0"})
    assert not PartnerMember.objects.get(pk=new.pk).is_active
    with tenant_context(tenant):
        assert not Membership.objects.get(user=new.user).is_active
    # The last administrator cannot step down.
    response = admin.post(f"/partners/{agency.partner.slug}/members/{agency.admin_member.pk}/role/",
                          {"role": "member"}, follow=True)
    assert "at least one active administrator" in response.content.decode()
    assert PartnerMember.objects.get(pk=agency.admin_member.pk).role == "admin"


def test_the_dashboard_shows_plan_seats_state_and_renewal(agency, after_commit, portal_a):
    _linked(agency, after_commit, portal_a)
    with tenant_context(portal_a.tenant):
        seats = Membership.objects.filter(is_active=True, is_partner_access=False).count()
    body = public_client(agency.admin).get(f"/partners/{agency.partner.slug}/").content.decode()
    row = body.split(portal_a.tenant.name, 1)[1].split("</tr>", 1)[0]
    assert "Enterprise" in row or "enterprise" in row.lower()
    assert f"{seats} / " in row
    assert "trial ends" in row
    assert f"http://{portal_a.host}/" in row
    assert 'action="/logout/"' in body  # partner members can sign out of the public host


def test_staff_create_a_partner_with_its_first_administrator(portals, after_commit, smtp_inbox):
    from kompas.partners.services import create_partner_with_admin

    staff = User.objects.create_user(email="obsluga@kompas.test", password=PASSWORD, is_staff=True)
    with after_commit(execute=True):
        partner = create_partner_with_admin(staff=staff, name="Nowy Partner", slug="nowy-partner",
                                            email="biuro@nowy.pl", admin_email="szefowa@nowy.pl",
                                            link_for=lambda token: f"http://{settings.BASE_DOMAIN}/partners/"
                                                                   f"invitation/{token}/")
    [message] = smtp_inbox.wait_for(1)
    assert message["To"] == "szefowa@nowy.pl"
    path = _link_in(message, settings.BASE_DOMAIN)
    guest = public_client()
    guest.post(path, {"full_name": "Szefowa", "password": "Mocne-haslo-partnera-2"})
    assert PartnerMember.objects.get(partner=partner, user__email="szefowa@nowy.pl").role == "admin"
    assert AuditEvent.objects.filter(action="partner.created", partner=partner, actor_kind="staff").exists()
    with pytest.raises(PermissionError):
        create_partner_with_admin(staff=User.objects.get(email="szefowa@nowy.pl"), name="X", slug="xyz",
                                  email="a@b.pl", admin_email="c@d.pl", link_for=str)


def test_a_second_partner_cannot_take_over_a_linked_portal(agency, other_agency, after_commit, portal_a):
    _linked(agency, after_commit, portal_a)
    _ask(other_agency, after_commit, portal_a.tenant.slug)
    link_request = PartnerLinkRequest.objects.get(partner=other_agency.partner)
    with after_commit(execute=True):
        portal_a.client(logged_in=True).post(f"/settings/partner/requests/{link_request.pk}/",
                                             {"decision": "approve"})
    assert Tenant.objects.get(pk=portal_a.tenant.pk).partner_id == agency.partner.pk
    assert PartnerLinkRequest.objects.get(pk=link_request.pk).state == "pending"

