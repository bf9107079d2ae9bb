"""Leads over the API: their own rules come back naming the field."""

from __future__ import annotations

import pytest

from crm.core.tests.test_api import api_key, create, error_of, key_client, send

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _generous_rate_limits(settings):
    settings.API_RATE_PER_KEY = settings.API_RATE_PER_PORTAL = "100000/min"


def test_a_lead_is_created_and_its_rules_name_the_field(portal_a):
    client = key_client(portal_a, api_key(portal_a))
    contact = create(portal_a, "contact", {"first_name": "Krzysztof", "last_name": "Mroczek"})
    created = send(client, "post", "/api/v1/leads/", {
        "title": "Zapytanie o 40 stanowisk", "first_name": "Krzysztof", "last_name": "Mroczek",
        "company_name": "Biuro Rachunkowe Mroczek", "emails": [{"value": "K.Mroczek@Biuro.PL"}],
        "value": "18000", "contact": contact.pk})
    assert created.status_code == 201, created.content
    lead = created.json()
    assert lead["status"] == "new" and lead["currency"] == "PLN" and lead["is_repeat"] is False
    assert lead["emails"] == [{"value": "k.mroczek@biuro.pl", "kind": "work"}]
    assert lead["contact_summary"] == {"id": contact.pk, "name": "Krzysztof Mroczek"}

    path = f"/api/v1/leads/{lead['id']}/"
    refused = error_of(send(client, "patch", path, {"status": "junk"}))
    assert list(refused["fields"]) == ["junk_reason"] and refused["fields"]["junk_reason"] == [
        "Reason: Say why the lead is junk."]
    refused = error_of(send(client, "patch", path, {"status": "converted"}))
    assert list(refused["fields"]) == ["status"]
    refused = error_of(send(client, "patch", path, {"status": "wygrany"}))
    assert list(refused["fields"]) == ["status"] and "wygrany" in refused["fields"]["status"][0]
    junk = send(client, "patch", path, {"status": "junk", "junk_reason": "Konkurencja pyta o ceny"})
    assert junk.status_code == 200 and junk.json()["status"] == "junk"
    filtered = send(client, "get", '/api/v1/leads/?filter={"field": "status", "op": "eq", "value": "junk"}')
    assert [row["id"] for row in filtered.json()["results"]] == [lead["id"]]
