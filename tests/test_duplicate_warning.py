"""Creating a record that looks like an existing one is a warning the person can override, on the
record page and in the API (issue 8: detection on create and API)."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import tenant_context

from crm.contacts.models import Contact
from crm.core import services
from identity.members.models import Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def existing(portal_a):
    with tenant_context(portal_a.tenant):
        admin = Membership.objects.get(user=portal_a.owner)
        yield services.create_record(actor=admin, code="contact", values={
            "first_name": "Łukasz", "last_name": "Żółkiewski", "emails": ["lukasz@zolkiewski.pl"]})


def test_the_api_answers_409_with_the_matches_and_creates_with_force(portal_a, existing):
    client = portal_a.client(logged_in=True)
    body = json.dumps({"first_name": "Lukasz", "last_name": "Zolkiewski",
                       "emails": [{"value": "LUKASZ@zolkiewski.pl"}]})
    refused = client.post("/api/v1/contacts/", data=body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "possible_duplicates" and error["matches"][0]["id"] == existing.pk
    forced = client.post("/api/v1/contacts/?force=true", data=body, content_type="application/json")
    assert forced.status_code == 201
    with tenant_context(portal_a.tenant):
        assert Contact.objects.filter(last_name__in=["Żółkiewski", "Zolkiewski"]).count() == 2


def test_the_new_record_page_warns_and_offers_to_create_anyway(portal_a, existing):
    client = portal_a.client(logged_in=True)
    form = {"first_name": "Łukasz", "last_name": "Żółkiewski", "emails": "lukasz@zolkiewski.pl"}
    warned = client.post("/crm/contacts/new/", form, HTTP_ACCEPT_LANGUAGE="en")
    assert warned.status_code == 200 and 'name="force"' in warned.content.decode()
    created = client.post("/crm/contacts/new/", form | {"force": "1"})
    assert created.status_code == 302
    with tenant_context(portal_a.tenant):
        assert Contact.objects.filter(last_name="Żółkiewski").count() == 2
