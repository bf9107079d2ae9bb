"""CRM settings over the API: custom fields, lists of values, pipelines and stages."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from crm.contacts.models import Contact
from crm.core.models import CustomField
from crm.deals.models import Pipeline
from crm.dictionaries.models import Choice
from identity.members.models import Role
from identity.members.services import create_api_key

pytestmark = pytest.mark.django_db


def _send(client: Client, method: str, path: str, body=None, **headers):
    data = json.dumps(body) if body is not None else ""
    return getattr(client, method)(path, data=data, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en",
                                   **headers)


def _key(portal, role_code: str) -> str:
    with tenant_context(portal.tenant):
        return create_api_key(name=f"Integracja {role_code}", role=Role.objects.get(code=role_code),
                              created_by=None)[1]


def test_an_administrator_adds_a_custom_field_and_bad_definitions_name_the_field(portal_a):
    client = portal_a.client(logged_in=True)
    created = _send(client, "post", "/api/v1/settings/custom-fields/", {
        "entity": "deal", "code": "numer_przetargu", "label": "Numer przetargu", "field_type": "text"})
    assert created.status_code == 201, created.content
    refused = _send(client, "post", "/api/v1/settings/custom-fields/", {
        "entity": "deal", "code": "Zły Kod", "label": "", "field_type": "select"})
    assert refused.status_code == 400
    body = json.dumps(refused.json())
    assert "code" in body and "label" in body
    refused = _send(client, "post", "/api/v1/settings/custom-fields/", {
        "entity": "deal", "code": "branza", "label": "Branża", "field_type": "select"})
    assert refused.status_code == 400 and "options" in json.dumps(refused.json())
    changed = _send(client, "patch", f"/api/v1/settings/custom-fields/{created.json()['id']}/",
                    {"field_type": "boolean"})
    assert changed.status_code == 400 and "field_type" in json.dumps(changed.json())


def test_a_list_value_in_use_is_deleted_only_with_a_replacement(portal_a):
    client = portal_a.client(logged_in=True)
    fairs = _send(client, "post", "/api/v1/settings/lists/", {"kind": "source", "name": "Targi branżowe"}).json()
    web = _send(client, "post", "/api/v1/settings/lists/", {"kind": "source", "name": "Wyszukiwarka Bing"}).json()
    with tenant_context(portal_a.tenant):
        contact = Contact.objects.create(last_name="Źródłowa", source_id=fairs["id"])
    refused = _send(client, "delete", f"/api/v1/settings/lists/{fairs['id']}/")
    assert refused.status_code == 400 and "replacement" in json.dumps(refused.json())
    done = _send(client, "delete", f"/api/v1/settings/lists/{fairs['id']}/?replacement={web['id']}")
    assert done.status_code == 200 and done.json() == {"moved": 1}
    with tenant_context(portal_a.tenant):
        assert Contact.objects.get(pk=contact.pk).source_id == web["id"]


def test_pipelines_are_edited_by_administrators_only(portal_a):
    client = portal_a.client(logged_in=True)
    created = _send(client, "post", "/api/v1/settings/pipelines/", {
        "name": "Serwis", "stages": [{"name": "Zgłoszenie", "probability": 20},
                                     {"name": "Naprawa", "probability": 60, "required_fields": ["expected_close_date"]},
                                     {"name": "Zamknięte", "probability": 100, "kind": "won"}]})
    assert created.status_code == 201, created.content
    pipeline = created.json()
    assert [stage["name"] for stage in pipeline["stages"]] == ["Zgłoszenie", "Naprawa", "Zamknięte"]
    reversed_ids = [stage["id"] for stage in reversed(pipeline["stages"])]
    reordered = _send(client, "post", f"/api/v1/settings/pipelines/{pipeline['id']}/stage-order/",
                      {"stages": reversed_ids})
    assert [stage["id"] for stage in reordered.json()["stages"]] == reversed_ids
    for body, field in (({"name": "Wycena", "probability": 150}, "probability"),
                        ({"name": "Wycena", "required_fields": ["rozmiar_buta"]}, "required_fields")):
        bad = _send(client, "post", f"/api/v1/settings/pipelines/{pipeline['id']}/stages/", body)
        assert bad.status_code == 400 and field in bad.json()["error"]["fields"], bad.content
    seller_token = _key(portal_a, "salesperson")
    refused = Client(HTTP_HOST=portal_a.host).post(
        "/api/v1/settings/pipelines/", data=json.dumps({"name": "Moja"}), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {seller_token}", HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 403
    assert "administrators" in refused.content.decode()
    readable = Client(HTTP_HOST=portal_a.host).get("/api/v1/settings/pipelines/",
                                                   HTTP_AUTHORIZATION=f"Bearer {seller_token}")
    assert readable.status_code == 200 and "Serwis" in readable.content.decode()


def test_settings_of_portal_b_are_out_of_reach_from_portal_a(portal_a, portal_b):
    with tenant_context(portal_b.tenant):
        secret = Choice.objects.create(kind="source", name="Polecenie od Beta")
        field = CustomField.objects.create(entity="contact", code="tajne", label="Tajne pole", field_type="text")
        pipeline = Pipeline.objects.create(name="Tajny lejek Beta")
    client = portal_a.client(logged_in=True)
    for path in ("/api/v1/settings/lists/", "/api/v1/settings/custom-fields/", "/api/v1/settings/pipelines/"):
        body = client.get(path).content.decode()
        assert "Beta" not in body and "Tajne" not in body
    _send(client, "patch", f"/api/v1/settings/lists/{secret.pk}/", {"name": "Przejęte"})
    _send(client, "delete", f"/api/v1/settings/custom-fields/{field.pk}/")
    _send(client, "patch", f"/api/v1/settings/pipelines/{pipeline.pk}/", {"name": "Przejęty"})
    for host in (portal_b.host, portal_b.host.upper()):
        response = _send(client, "patch", f"/api/v1/settings/lists/{secret.pk}/", {"name": "Przejęte"},
                         HTTP_HOST=host)
        assert response.status_code in (401, 403, 404)
    token_a = _key(portal_a, "administrator")
    response = Client(HTTP_HOST=portal_b.host).get("/api/v1/settings/lists/", HTTP_AUTHORIZATION=f"Bearer {token_a}")
    assert response.status_code in (401, 403)
    with tenant_context(portal_b.tenant):
        assert Choice.objects.get(pk=secret.pk).name == "Polecenie od Beta"
        assert CustomField.objects.get(pk=field.pk).is_active
        assert Pipeline.objects.get(pk=pipeline.pk).name == "Tajny lejek Beta"
