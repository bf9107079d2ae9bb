"""The conversion wizard end to end with the test client, the API of the sales flow, the
conversion settings page, and isolation between portals."""

from __future__ import annotations

import json
import re

import pytest

from crm.contacts.models import Company, Contact
from crm.core import services
from crm.core.models import ChangeEntry
from crm.deals.models import Deal
from crm.leads.models import Lead
from crm.sales.models import ConversionMapping, ConversionSettings
from crm.sales.tests.helpers import in_portal, lead, member, open_stages, owner_of, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _generous_rate_limits(settings):
    settings.API_RATE_PER_KEY = settings.API_RATE_PER_PORTAL = "100000/min"


def _post_json(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")


def test_the_lead_page_has_a_convert_button_and_the_wizard_converts_with_the_existing_contact(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        existing = services.create_record(actor=owner, code="contact", values={
            "first_name": "Łukasz", "last_name": "Żółtowski", "emails": ["lukasz@zlotyklos.pl"]})
        item = lead(owner)
        _pipeline, stages = open_stages()
    client = portal_a.client(logged_in=True)
    page = client.get(f"/crm/leads/{item.pk}/").content.decode()
    assert f'href="/crm/leads/{item.pk}/convert/"' in page
    wizard = client.get(f"/crm/leads/{item.pk}/convert/")
    html = wizard.content.decode()
    assert wizard.status_code == 200 and "Łukasz Żółtowski" in html
    assert re.search(rf'name="contact" value="{existing.pk}"\s+checked', html)  # the match is the default
    assert 'name="company" value="new"' in html and "Piekarnia Złoty Kłos" in html

    refused = client.post(f"/crm/leads/{item.pk}/convert/", {
        "contact": existing.pk, "company": "new", "make_deal": "on", "title": "", "stage": stages[0].pk})
    assert refused.status_code == 200 and "Give the deal a title." in refused.content.decode()

    with in_portal(portal_a):
        contacts = Contact.objects.count()
    done = client.post(f"/crm/leads/{item.pk}/convert/", {
        "contact": existing.pk, "company": "new", "make_deal": "on", "title": "Kasy fiskalne — Złoty Kłos",
        "value": "24000", "currency": "PLN", "stage": stages[1].pk, "expected_close_date": "2026-05-20"})
    with in_portal(portal_a):
        deal = Deal.objects.get(title="Kasy fiskalne — Złoty Kłos")
        assert done.status_code == 302 and done["Location"] == f"/crm/deals/{deal.pk}/"
        assert Contact.objects.count() == contacts and deal.stage_id == stages[1].pk and deal.lead_id == item.pk
        assert list(deal.contacts.all()) == [existing] and deal.company.name == "Piekarnia Złoty Kłos"
        assert Lead.objects.get(pk=item.pk).status == "converted"
        assert ChangeEntry.objects.filter(entity="lead", record_id=item.pk, kind="converted").exists()
    lead_page = client.get(f"/crm/leads/{item.pk}/").content.decode()
    assert f"/crm/leads/{item.pk}/convert/" not in lead_page
    again = client.get(f"/crm/leads/{item.pk}/convert/").content.decode()
    assert "already converted" in again and f"/crm/deals/{deal.pk}/" in again
    twice = client.post(f"/crm/leads/{item.pk}/convert/", {"contact": "new", "make_deal": "on", "title": "x"})
    assert twice.status_code == 200
    with in_portal(portal_a):
        assert Contact.objects.count() == contacts


def test_a_member_who_may_not_edit_the_lead_gets_403_and_no_button(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        item = lead(owner)
        member(portal_a, "konsultant@alfa.pl", "consultant", "Kamil Konsultant")
    client = signed_in(portal_a, "konsultant@alfa.pl")
    assert "/convert/" not in client.get(f"/crm/leads/{item.pk}/").content.decode()
    assert client.get(f"/crm/leads/{item.pk}/convert/").status_code == 403
    assert client.post(f"/crm/leads/{item.pk}/convert/", {"contact": "new"}).status_code == 403
    refused = _post_json(client, f"/api/v1/leads/{item.pk}/convert/", {"contact": "new", "deal": "new"})
    assert refused.status_code == 403
    with in_portal(portal_a):
        assert Lead.objects.get(pk=item.pk).status == "new"


def test_the_api_converts_offers_matches_and_refuses_a_second_time(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        company = services.create_record(actor=owner, code="company", values={"name": "Piekarnia Złoty Kłos"})
        item = lead(owner)
    client = portal_a.client(logged_in=True)
    matches = client.get(f"/api/v1/leads/{item.pk}/convert/").json()
    assert [c["id"] for c in matches["companies"]] == [company.pk] and matches["contacts"] == []
    done = _post_json(client, f"/api/v1/leads/{item.pk}/convert/",
                      {"contact": "new", "company": company.pk, "deal": {"title": "Kasy", "value": "5000"}})
    assert done.status_code == 201, done.content
    body = done.json()
    assert body["lead"]["status"] == "converted" and body["company"]["id"] == company.pk
    assert body["deal"]["name"] == "Kasy" and body["contact"]["name"] == "Łukasz Żółtowski"
    again = _post_json(client, f"/api/v1/leads/{item.pk}/convert/", {"deal": "new"})
    assert again.status_code == 400 and "already been converted" in again.json()["error"]["message"]
    with in_portal(portal_a):
        assert Company.objects.filter(name="Piekarnia Złoty Kłos").count() == 1


def test_interactions_api_follows_the_repeat_lead_rule(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        customer = services.create_record(actor=owner, code="contact", values={
            "last_name": "Wójcik", "emails": ["marta@wojcik-meble.pl"]})
    client = portal_a.client(logged_in=True)
    first = _post_json(client, "/api/v1/interactions/", {
        "channel": "email", "summary": "Znowu potrzebujemy krzeseł",
        "contact_data": {"email": "marta@wojcik-meble.pl"}})
    assert first.status_code == 201 and first.json()["outcome"] == "repeat_lead"
    assert first.json()["contact"]["id"] == customer.pk
    second = _post_json(client, "/api/v1/interactions/", {"channel": "call", "contact": customer.pk,
                                                          "summary": "Dzwoniła"})
    assert second.json()["outcome"] == "attached" and second.json()["attached_to"] == {
        "entity": "lead", "id": first.json()["id"]}
    stranger = _post_json(client, "/api/v1/interactions/", {"channel": "form", "summary": "Oferta?",
                                                            "contact_data": {"last_name": "Obcy"}})
    assert stranger.json()["outcome"] == "new_lead"
    bad = _post_json(client, "/api/v1/interactions/", {"channel": "fax"})
    assert bad.status_code == 400 and "channel" in bad.json()["error"]["fields"]


def test_recurring_leads_api_and_page(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        customer = services.create_record(actor=owner, code="contact", values={"last_name": "Stały Klient"})
    client = portal_a.client(logged_in=True)
    made = _post_json(client, "/api/v1/recurring-leads/", {
        "contact": customer.pk, "title_template": "Dostawa kawy {date}", "frequency": "weekly",
        "next_run": "2026-12-01"})
    assert made.status_code == 201, made.content
    pk = made.json()["id"]
    assert [row["id"] for row in client.get("/api/v1/recurring-leads/").json()["results"]] == [pk]
    changed = client.patch(f"/api/v1/recurring-leads/{pk}/", data=json.dumps({"active": False}),
                           content_type="application/json")
    assert changed.status_code == 200 and changed.json()["active"] is False
    assert "Dostawa kawy" in client.get("/crm/recurring-leads/").content.decode()
    bad = _post_json(client, "/api/v1/recurring-leads/", {"title_template": "x", "frequency": "hourly",
                                                           "next_run": "2026-12-01"})
    assert bad.status_code == 400
    assert client.delete(f"/api/v1/recurring-leads/{pk}/").status_code == 204


def test_conversion_settings_page_changes_the_mapping_and_the_rule(portal_a):
    client = portal_a.client(logged_in=True)
    page = client.get("/settings/crm/conversion/")
    assert page.status_code == 200 and 'name="lead_field_0"' in page.content.decode()
    saved = client.post("/settings/crm/conversion/", {"action": "rule", "auto_convert": "on",
                                                      "condition": "in_progress"})
    assert saved.status_code == 302
    with in_portal(portal_a):
        rule = ConversionSettings.objects.get()
        assert rule.auto_convert and rule.condition == "in_progress"
    posted = client.post("/settings/crm/conversion/", {"action": "mapping", "lead_field_0": "last_name",
                                                       "target_0": "contact.last_name", "lead_field_1": "title",
                                                       "target_1": "deal.title", "remove_1": "1"})
    assert posted.status_code == 302
    with in_portal(portal_a):
        assert list(ConversionMapping.objects.values_list("lead_field", "target", "target_field")) == [
            ("last_name", "contact", "last_name")]
    bad = client.post("/settings/crm/conversion/", {"action": "mapping", "lead_field_0": "last_name",
                                                    "target_0": "contact.nothing"})
    assert bad.status_code == 200 and "has no field" in bad.content.decode()
    assert client.post("/settings/crm/conversion/", {"action": "reset"}).status_code == 302
    with in_portal(portal_a):
        assert not ConversionMapping.objects.exists()
        member(portal_a, "handlowiec@alfa.pl", "salesperson")
    assert signed_in(portal_a, "handlowiec@alfa.pl").get("/settings/crm/conversion/").status_code == 403


def test_a_lead_of_portal_b_is_not_found_on_portal_a(portal_a, portal_b):
    with in_portal(portal_b):
        theirs = lead(owner_of(portal_b), title="Lead portalu B")
    with in_portal(portal_a):
        Lead.objects.filter(pk=theirs.pk).delete()  # make sure the id is free on A
    client = portal_a.client(logged_in=True)
    assert client.get(f"/crm/leads/{theirs.pk}/convert/").status_code == 404
    assert client.post(f"/crm/leads/{theirs.pk}/convert/", {"contact": "new"}).status_code == 404
    assert _post_json(client, f"/api/v1/leads/{theirs.pk}/convert/", {"deal": "new"}).status_code == 404
    # Portal A's session on portal B's host gets nothing.
    from django.test import Client

    foreign = Client(HTTP_HOST=portal_b.host)
    foreign.cookies = client.cookies
    response = foreign.post(f"/crm/leads/{theirs.pk}/convert/", {"contact": "new", "make_deal": "on", "title": "x"})
    assert response.status_code in (302, 403, 404)
    with in_portal(portal_b):
        assert Lead.objects.get(pk=theirs.pk).status == "new"


def test_the_wizard_needs_the_same_queries_for_3_or_30_possible_matches(portal_a):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def contacts(count):
        with in_portal(portal_a):
            owner = owner_of(portal_a)
            company = services.create_record(actor=owner, code="company", values={"name": "Piekarnia Złoty Kłos"})
            Contact.objects.bulk_create([Contact(last_name=f"Żółtowski {i}", owner=owner, company=company,
                                                 phones=[{"value": "+48600100200", "kind": "work"}])
                                         for i in range(count)])

    with in_portal(portal_a):
        item = lead(owner_of(portal_a))
    client = portal_a.client(logged_in=True)
    contacts(3)
    client.get(f"/crm/leads/{item.pk}/convert/")  # warm the per-process caches
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"/crm/leads/{item.pk}/convert/").status_code == 200
    contacts(27)
    with CaptureQueriesContext(connection) as many:
        html = client.get(f"/crm/leads/{item.pk}/convert/").content.decode()
    assert html.count('name="contact" value="') == 5 + 2  # five matches, new, none
    assert len(many) <= len(few), [q["sql"] for q in many.captured_queries]


def test_an_api_key_registers_interactions_and_converts_leads(portal_a):
    from crm.core.tests.test_api import api_key, key_client

    client = key_client(portal_a, api_key(portal_a))
    made = _post_json(client, "/api/v1/interactions/", {
        "channel": "form", "summary": "Formularz: wycena dla 12 stanowisk",
        "contact_data": {"first_name": "Zofia", "last_name": "Kępa", "email": "zofia@kepa.pl",
                         "company_name": "Kępa i Wspólnicy"}})
    assert made.status_code == 201 and made.json()["outcome"] == "new_lead"
    lead_id = made.json()["id"]
    done = _post_json(client, f"/api/v1/leads/{lead_id}/convert/", {"contact": "new", "company": "new",
                                                                   "deal": "new"})
    assert done.status_code == 201, done.content
    again = _post_json(client, "/api/v1/interactions/", {"channel": "email", "summary": "Jeszcze jedno pytanie",
                                                         "contact_data": {"email": "ZOFIA@kepa.pl"}})
    # the converted lead is closed, but the deal it became is open: the e-mail lands on the deal
    assert again.json()["outcome"] == "attached" and again.json()["attached_to"] == {
        "entity": "deal", "id": done.json()["deal"]["id"]}
    with in_portal(portal_a):
        history = ChangeEntry.objects.filter(entity="lead", record_id=lead_id, kind="converted").get()
        assert history.actor_id is None and history.actor_label
