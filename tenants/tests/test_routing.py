"""Host → tenant routing: cached, isolated, and never falling back to the public site."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.test import Client, override_settings

from tenants.models import Domain, Tenant
from tenants.routing import normalise_host, tenant_for_host

pytestmark = pytest.mark.django_db


def test_portal_host_routes_to_its_portal(portal_a, portal_b):
    assert tenant_for_host(portal_a.host).schema_name == portal_a.tenant.schema_name
    assert tenant_for_host(portal_b.host).schema_name == portal_b.tenant.schema_name


def test_known_host_is_served_without_any_database_query(portal_a, django_assert_num_queries):
    client = portal_a.client()
    client.get("/auth/login/")  # the first request fills the routing cache
    with django_assert_num_queries(0):
        response = client.get("/auth/login/")
    assert response.status_code == 200
    assert portal_a.tenant.name in response.content.decode()


def test_unknown_host_gets_a_clear_404_and_nothing_of_the_public_site(portals):
    response = Client(HTTP_HOST="nieistniejacy.kompas.test").get("/", HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.status_code == 404
    assert "Portal not found" in body
    assert "nieistniejacy.kompas.test" in body
    assert "Go to your portal" not in body  # the landing page's content
    for portal in portals.values():
        assert portal.tenant.name not in body


def test_unknown_host_page_speaks_polish_by_default(portals):
    response = Client(HTTP_HOST="zly-adres.kompas.test").get("/", HTTP_ACCEPT_LANGUAGE="pl")
    assert response.status_code == 404
    assert "Nie znaleziono portalu" in response.content.decode()


def test_unknown_host_is_cached_so_scanners_do_not_reach_the_database(portals, django_assert_num_queries):
    client = Client(HTTP_HOST="skaner.kompas.test")
    client.get("/")
    with django_assert_num_queries(0):
        assert client.get("/").status_code == 404


def test_base_domain_serves_the_public_landing_site(portals):
    response = Client(HTTP_HOST="kompas.test").get("/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "Go to your portal" in response.content.decode()


def test_www_prefix_port_case_and_trailing_dot_are_ignored(portal_a):
    assert normalise_host("WWW.Alfa.Kompas.Test.:8000") == "alfa.kompas.test"
    assert normalise_host("[::1]:8000") == "[::1]"
    response = Client(HTTP_HOST=f"www.{portal_a.host.upper()}:8443").get("/auth/login/")
    assert response.status_code == 200
    assert portal_a.tenant.name in response.content.decode()


def test_adding_a_domain_routes_it_at_once_even_after_it_was_cached_as_unknown(portal_a):
    assert tenant_for_host("crm.alfa-handel.pl") is None
    domain = Domain.objects.create(domain="crm.alfa-handel.pl", tenant=portal_a.tenant, is_primary=False)
    assert tenant_for_host("crm.alfa-handel.pl").pk == portal_a.tenant.pk
    domain.delete()
    assert tenant_for_host("crm.alfa-handel.pl") is None


def test_changing_a_domain_forgets_the_old_host(portal_a):
    domain = Domain.objects.create(domain="stary.alfa-handel.pl", tenant=portal_a.tenant, is_primary=False)
    assert tenant_for_host("stary.alfa-handel.pl") is not None
    domain.domain = "nowy.alfa-handel.pl"
    domain.save()
    assert tenant_for_host("stary.alfa-handel.pl") is None
    assert tenant_for_host("nowy.alfa-handel.pl").pk == portal_a.tenant.pk


def test_tenant_changes_reach_the_cache(portal_a):
    assert tenant_for_host(portal_a.host).status == Tenant.Status.TRIAL
    tenant = Tenant.objects.get(pk=portal_a.tenant.pk)
    tenant.status = Tenant.Status.SUSPENDED
    tenant.save()
    assert tenant_for_host(portal_a.host).status == Tenant.Status.SUSPENDED


@override_settings(DEBUG=True)
def test_slug_dot_localhost_routes_in_development(portal_a):
    assert tenant_for_host("alfa.localhost:8000").pk == portal_a.tenant.pk


def test_slug_dot_localhost_does_not_route_in_production(portal_a):
    assert tenant_for_host("alfa.localhost") is None


def test_cache_entries_are_per_host_not_shared_between_portals(portal_a, portal_b):
    tenant_for_host(portal_a.host)
    tenant_for_host(portal_b.host)
    cache = caches["routing"]
    assert cache.get(f"host:{portal_a.host}").schema_name == portal_a.tenant.schema_name
    assert cache.get(f"host:{portal_b.host}").schema_name == portal_b.tenant.schema_name


def test_malformed_host_header_gets_404_not_a_crash(portals):
    response = Client(HTTP_HOST="bad host with spaces").get("/")
    assert response.status_code in (400, 404)


def test_a_change_is_forgotten_again_after_commit(portal_a, django_capture_on_commit_callbacks):
    """A request racing the transaction could re-cache the old row; the after-commit drop clears it."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        Domain.objects.create(domain="wyscig.alfa-handel.pl", tenant=portal_a.tenant, is_primary=False)
    caches["routing"].set("host:wyscig.alfa-handel.pl", "unknown")  # what a racing request would leave
    for callback in callbacks:
        callback()
    assert tenant_for_host("wyscig.alfa-handel.pl").pk == portal_a.tenant.pk


def test_other_processes_see_a_change_once_their_local_entry_expires(portal_a, monkeypatch):
    from tenants import routing

    assert tenant_for_host(portal_a.host).status == Tenant.Status.TRIAL
    # Another process suspends the portal: only the shared cache learns it.
    suspended = Tenant.objects.get(pk=portal_a.tenant.pk)
    suspended.status = Tenant.Status.SUSPENDED
    caches["routing"].set(f"host:{portal_a.host}", suspended)
    assert tenant_for_host(portal_a.host).status == Tenant.Status.TRIAL  # still the local entry
    later = routing.time.monotonic() + routing.LOCAL_TTL + 1
    monkeypatch.setattr(routing.time, "monotonic", lambda: later)
    assert tenant_for_host(portal_a.host).status == Tenant.Status.SUSPENDED


def test_each_request_gets_its_own_tenant_instance(portal_a):
    first, second = tenant_for_host(portal_a.host), tenant_for_host(portal_a.host)
    first.domain_url = "zmieniony"
    assert first is not second and getattr(second, "domain_url", None) != "zmieniony"
