"""Export: every field including custom ones, only what the caller may export, CSV and Excel."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import Client
from django_tenants.utils import tenant_context
from openpyxl import load_workbook

from crm.contacts.models import Contact
from crm.core.models import CustomField
from identity.members.models import Role, RolePermission
from identity.members.services import create_api_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def contacts(portal_a):
    with tenant_context(portal_a.tenant):
        CustomField.objects.create(entity="contact", code="rabat", label="Rabat stały", field_type="number")
        yield [Contact.objects.create(first_name="Grzegorz", last_name="Brzęczyszczykiewicz", city="Łódź",
                                      emails=[{"value": "g.brzeczyszczykiewicz@example.pl", "kind": "work"}],
                                      custom={"rabat": 15}, tags=["vip"]),
               Contact.objects.create(first_name="Anna", last_name="Żak", city="Gdańsk")]


def _csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))


def test_a_csv_export_has_every_field_custom_ones_and_polish_letters(portal_a, contacts):
    response = portal_a.client(logged_in=True).get("/api/v1/export/contact/", HTTP_ACCEPT_LANGUAGE="pl")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="contact-')
    table = _csv(response)
    header, rows = table[0], table[1:]
    assert {"imię", "nazwisko", "miejscowość", "Rabat stały", "tagi"} <= set(header)
    by_name = {row[header.index("nazwisko")]: row for row in rows}
    row = by_name["Brzęczyszczykiewicz"]
    assert row[header.index("Rabat stały")] == "15"
    assert row[header.index("miejscowość")] == "Łódź"
    assert row[header.index("adresy e-mail")] == "g.brzeczyszczykiewicz@example.pl"


def test_the_export_follows_the_filter_language(portal_a, contacts):
    tree = json.dumps({"field": "city", "op": "eq", "value": "Gdańsk"})
    response = portal_a.client(logged_in=True).get("/api/v1/export/contact/", {"filter": tree})
    rows = _csv(response)[1:]
    assert len(rows) == 1 and "Żak" in rows[0]


def test_an_excel_export_opens_with_the_same_rows(portal_a, contacts):
    response = portal_a.client(logged_in=True).get("/api/v1/export/contact/?format=xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    assert len(values) == 3
    assert any("Brzęczyszczykiewicz" in row for row in values)


def test_export_needs_the_export_right_even_with_read_rights(portal_a, contacts):
    with tenant_context(portal_a.tenant):
        role = Role.objects.create(name="Tylko podgląd")
        RolePermission.objects.create(role=role, entity="contact", action="read", scope="all")
        token = create_api_key(name="Raporty", role=role, created_by=None)[1]
    response = Client(HTTP_HOST=portal_a.host).get("/api/v1/export/contact/", HTTP_AUTHORIZATION=f"Bearer {token}",
                                                   HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 403
    assert "export" in response.content.decode()


def test_portal_b_exports_none_of_portal_a_records(portal_a, portal_b, contacts):
    response = portal_b.client(logged_in=True).get("/api/v1/export/contact/")
    assert "Brzęczyszczykiewicz" not in b"".join(response.streaming_content).decode("utf-8")
    spoofed = portal_a.client(logged_in=True).get("/api/v1/export/contact/", HTTP_HOST=portal_b.host)
    assert spoofed.status_code in (302, 401, 403)
