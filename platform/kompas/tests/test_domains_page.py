"""Settings → Domains: administrators only, plan-gated, audited, and blind to other portals' domains.

The services, DNS checks, routing and the TLS ask endpoint are tested in tenants/tests/test_custom_domains.py.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from billing.models import Plan, Subscription
from tenants import selectors
from tenants.models import AuditEvent, Domain
from tenants.tests.loopback_dns import dns_server
from tenants.tests.test_custom_domains import TARGET, _add, _publish, _verified

pytestmark = pytest.mark.django_db


@pytest.fixture
def dns(settings):
    with dns_server() as (zone, nameserver):
        settings.DNS_NAMESERVERS = [nameserver]
        settings.DNS_TIMEOUT_SECONDS = 2.0
        zone.add(f"{TARGET}. 60 IN A 192.0.2.10")
        yield zone


def _page(client) -> str:
    return client.get("/settings/domains/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_an_admin_adds_a_domain_and_sees_the_dns_records_to_copy(portal_a):
    client = portal_a.client(logged_in=True)
    response = client.post("/settings/domains/add/", {"domain": "CRM.Alfa-Handel.pl"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    domain = Domain.objects.get(domain="crm.alfa-handel.pl")
    page = _page(client)
    assert 'value="_kompas-verify.crm.alfa-handel.pl"' in page
    assert f'value="{domain.verification_token}"' in page
    assert f'value="{TARGET}"' in page
    assert "Waiting for DNS records" in page and portal_a.host in page
    assert "/settings/domains/" in client.get("/settings/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_page_refuses_an_invalid_domain_with_the_reason(portal_a):
    client = portal_a.client(logged_in=True)
    response = client.post("/settings/domains/add/", {"domain": "beta.kompas.test"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "belong to the platform" in response.content.decode()
    assert not Domain.objects.filter(domain="beta.kompas.test", is_custom=True).exists()


def test_check_now_make_primary_and_remove_from_the_page(portal_a, dns):
    client = portal_a.client(logged_in=True)
    client.post("/settings/domains/add/", {"domain": "crm.alfa-handel.pl"})
    domain = Domain.objects.get(domain="crm.alfa-handel.pl")
    _publish(dns, domain)
    response = client.post(f"/settings/domains/{domain.pk}/check/", HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert "is verified and now leads to this portal" in response.content.decode()
    client.post(f"/settings/domains/{domain.pk}/primary/")
    assert selectors.primary_host(portal_a.tenant) == "crm.alfa-handel.pl"
    assert "Primary address" in _page(client)
    client.post(f"/settings/domains/{domain.pk}/remove/")
    assert not Domain.objects.filter(pk=domain.pk).exists()
    assert selectors.primary_host(portal_a.tenant) == portal_a.host
    actions = set(AuditEvent.objects.filter(tenant=portal_a.tenant, details__domain="crm.alfa-handel.pl")
                  .values_list("action", flat=True))
    assert actions == {"domain.added", "domain.verified", "domain.primary_changed", "domain.removed"}


def test_a_plan_without_custom_domains_refuses_clearly(portal_a):
    Subscription.objects.filter(tenant=portal_a.tenant).update(plan=Plan.objects.get(code="start"),
                                                                status=Subscription.Status.ACTIVE)
    client = portal_a.client(logged_in=True)
    assert 'data-testid="not-in-plan"' in _page(client)
    response = client.post("/settings/domains/add/", {"domain": "crm.alfa-handel.pl"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "Custom domain is not included in your plan" in response.content.decode()
    assert not Domain.objects.filter(domain="crm.alfa-handel.pl").exists()


def test_the_trial_of_the_top_plan_includes_custom_domains(portal_a):
    assert 'data-testid="not-in-plan"' not in _page(portal_a.client(logged_in=True))


def test_members_without_admin_rights_are_refused(portal_a):
    from identity.accounts.models import User
    from identity.members.services import add_member

    domain = _add(portal_a)
    user = User.objects.create_user(email="handlowiec@alfa-handel.pl", password=portal_a.password)
    with tenant_context(portal_a.tenant):
        add_member(user=user)
        client = Client(HTTP_HOST=portal_a.host, HTTP_ACCEPT_LANGUAGE="en")
        assert client.login(username=user.email, password=portal_a.password)
    assert client.get("/settings/domains/").status_code == 403
    assert client.post("/settings/domains/add/", {"domain": "tylne-drzwi.pl"}).status_code == 403
    for action in ("check", "primary", "remove"):
        assert client.post(f"/settings/domains/{domain.pk}/{action}/").status_code == 403
    assert not Domain.objects.filter(domain="tylne-drzwi.pl").exists()
    assert Domain.objects.filter(pk=domain.pk).exists()


def test_portal_a_cannot_see_check_or_remove_portal_b_domains(portal_a, portal_b, dns):
    domain_b = _verified(portal_b, dns, "crm.beta-serwis.pl")
    client = portal_a.client(logged_in=True)
    assert "crm.beta-serwis.pl" not in _page(client)
    for action in ("check", "primary", "remove"):
        assert client.post(f"/settings/domains/{domain_b.pk}/{action}/").status_code == 404
    # Portal B's subdomain and its verified domain are hosts of portal B: A's session is worthless there.
    for host in (portal_b.host, "crm.beta-serwis.pl"):
        for action in ("check", "primary", "remove"):
            spoofed = portal_a.client(logged_in=True).post(f"/settings/domains/{domain_b.pk}/{action}/",
                                                           HTTP_HOST=host)
            assert spoofed.status_code == 302 and "/auth/login/" in spoofed["Location"], (host, action)
    domain_b.refresh_from_db()
    assert domain_b.last_checked_at is not None and not domain_b.is_primary
    assert not AuditEvent.objects.filter(tenant=portal_a.tenant, details__domain="crm.beta-serwis.pl").exists()
