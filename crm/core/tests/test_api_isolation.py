"""Tenant isolation of the CRM API: IDs overlap between portal schemas, so every way of reaching
portal B's records from portal A — a guessed id, a session cookie, a spoofed Host header, an API
key, a bulk request — must reach nothing of B."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from crm.contacts.models import Contact
from crm.core.tests.test_api import api_key, create, error_of, key_client, send

pytestmark = pytest.mark.django_db

ENDPOINTS = ["/api/v1/contacts/{id}/", "/api/v1/contacts/{id}/history/", "/api/v1/contacts/{id}/timeline/"]


@pytest.fixture(autouse=True)
def _generous_rate_limits(settings):
    settings.API_RATE_PER_KEY = settings.API_RATE_PER_PORTAL = "100000/min"


def _pair(portal_a, portal_b) -> tuple[Contact, Contact, Contact]:
    """A's contact and B's contact with the same id, and a B contact whose id A does not have."""
    a_first = create(portal_a, "contact", {"first_name": "Agnieszka", "last_name": "Alfowska"})
    b_first = create(portal_b, "contact", {"first_name": "Bartosz", "last_name": "Betowski"})
    while b_first.pk < a_first.pk:
        b_first = create(portal_b, "contact", {"first_name": "Bartosz", "last_name": "Betowski"})
    while a_first.pk < b_first.pk:
        a_first = create(portal_a, "contact", {"first_name": "Agnieszka", "last_name": "Alfowska"})
    assert a_first.pk == b_first.pk  # the same id in both schemas
    b_only = create(portal_b, "contact", {"first_name": "Barbara", "last_name": "Tylko-Beta"})
    with tenant_context(portal_a.tenant):
        assert not Contact.objects.filter(pk=b_only.pk).exists()
    return a_first, b_first, b_only


def test_a_guessed_id_of_portal_b_shows_nothing_of_b_on_portal_a(portal_a, portal_b):
    a_same, _b_same, b_only = _pair(portal_a, portal_b)
    client = portal_a.client(logged_in=True)
    for template in ENDPOINTS:
        response = send(client, "get", template.format(id=b_only.pk))
        assert response.status_code == 404, template
        assert error_of(response)["code"] == "not_found"
        same = send(client, "get", template.format(id=a_same.pk))
        assert same.status_code == 200 and "Betowski" not in same.content.decode(), template
    assert send(client, "patch", f"/api/v1/contacts/{b_only.pk}/", {"city": "Alfa"}).status_code == 404
    assert send(client, "delete", f"/api/v1/contacts/{b_only.pk}/").status_code == 404
    assert send(client, "post", f"/api/v1/contacts/{b_only.pk}/restore/").status_code == 404
    assert send(client, "get", f"/api/v1/activities/?entity=contact&record_id={b_only.pk}").status_code == 404
    listed = send(client, "get", "/api/v1/contacts/?q=betowski").json()["results"]
    assert listed == []
    assert send(client, "get", "/api/v1/search/?q=betowski").json()["results"] == []
    with tenant_context(portal_b.tenant):
        assert Contact.objects.get(pk=b_only.pk).deleted_at is None


def test_portal_a_s_session_and_a_spoofed_host_reach_nothing_on_portal_b(portal_a, portal_b):
    _a_same, b_same, _b_only = _pair(portal_a, portal_b)
    client = portal_a.client(logged_in=True)
    for host in (portal_b.host, f"{portal_b.host}:443", portal_b.host.upper()):
        for path in ("/api/v1/contacts/", f"/api/v1/contacts/{b_same.pk}/", "/api/v1/schema/",
                     "/api/v1/search/?q=betowski"):
            response = send(client, "get", path, HTTP_HOST=host)
            assert response.status_code == 401, (host, path, response.status_code)
            body = response.content.decode()
            assert "Betowski" not in body and "Alfowska" not in body and portal_a.tenant.name not in body
        created = send(client, "post", "/api/v1/contacts/", {"last_name": "Intruz"}, HTTP_HOST=host)
        assert created.status_code == 401
    with tenant_context(portal_b.tenant):
        assert not Contact.objects.filter(last_name="Intruz").exists()


def test_portal_a_s_api_key_is_rejected_on_portal_b(portal_a, portal_b):
    token = api_key(portal_a)
    assert send(key_client(portal_a, token), "get", "/api/v1/contacts/").status_code == 200
    for host in (portal_b.host, portal_b.host.upper(), f"{portal_b.host}:443"):
        refused = send(key_client(portal_b, token, host=host), "get", "/api/v1/contacts/")
        assert refused.status_code == 401
        assert "not valid for this portal" in error_of(refused)["message"]
        posted = send(key_client(portal_b, token, host=host), "post", "/api/v1/contacts/bulk/",
                      {"items": [{"last_name": "Intruz"}]})
        assert posted.status_code == 401
    with tenant_context(portal_b.tenant):
        assert not Contact.objects.filter(last_name="Intruz").exists()


def test_bulk_requests_with_portal_b_s_ids_change_nothing_in_b(portal_a, portal_b):
    a_same, b_same, b_only = _pair(portal_a, portal_b)
    client = portal_a.client(logged_in=True)
    refused = send(client, "patch", "/api/v1/contacts/bulk/", {"ids": [b_only.pk], "values": {"city": "Alfa"}})
    assert refused.status_code == 400 and set(error_of(refused)["items"]) == {"0"}
    refused = send(client, "post", "/api/v1/contacts/bulk-delete/", {"ids": [a_same.pk, b_only.pk]})
    assert refused.status_code == 400 and set(error_of(refused)["items"]) == {"1"}
    # The same id names A's own record on A's host: only that one changes.
    changed = send(client, "patch", "/api/v1/contacts/bulk/", {"ids": [b_same.pk], "values": {"city": "Alfa"}})
    assert changed.status_code == 200 and changed.json()["results"][0]["last_name"] == "Alfowska"
    assert send(client, "post", "/api/v1/contacts/bulk-delete/", {"ids": [b_same.pk]}).status_code == 200
    with tenant_context(portal_b.tenant):
        for contact in Contact.objects.filter(pk__in=[b_same.pk, b_only.pk]):
            assert contact.city == "" and contact.deleted_at is None
    with tenant_context(portal_a.tenant):
        assert Contact.objects.get(pk=a_same.pk).deleted_at is not None
