"""Deals over the API: CRUD with an API key, moving through stages with their required fields,
kanban order, pipelines with their stages, and per-pipeline access."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from crm.core.tests.test_api import api_key, create, error_of, key_client, member_client, send
from crm.deals import services as deals
from crm.deals.models import Deal, StageKind
from identity.members.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _generous_rate_limits(settings):
    settings.API_RATE_PER_KEY = settings.API_RATE_PER_PORTAL = "100000/min"


def _tender_pipeline(portal):
    with tenant_context(portal.tenant):
        pipeline = deals.create_pipeline(name="Przetargi publiczne")
        offer = pipeline.stages.get(position=2)
        deals.update_stage(stage=offer, required_fields=["expected_close_date", "company"])
        return pipeline, offer, pipeline.stages.get(kind=StageKind.LOST)


def test_deals_are_created_changed_and_listed_with_an_api_key(portal_a):
    client = key_client(portal_a, api_key(portal_a))
    company = send(client, "post", "/api/v1/companies/", {"name": "Miejskie Przedsiębiorstwo Wodociągów"}).json()
    contact = send(client, "post", "/api/v1/contacts/", {"first_name": "Halina", "last_name": "Wrona"}).json()
    created = send(client, "post", "/api/v1/deals/", {"title": "Modernizacja stacji uzdatniania", "value": "480000",
                                                      "company": company["id"], "contacts": [contact["id"]]})
    assert created.status_code == 201, created.content
    deal = created.json()
    assert deal["currency"] == "PLN" and deal["value"] == "480000.00"
    assert deal["pipeline_summary"]["name"] and deal["stage_summary"]["id"] == deal["stage"]
    assert deal["company_summary"] == {"id": company["id"], "name": "Miejskie Przedsiębiorstwo Wodociągów"}
    assert deal["contacts"] == [contact["id"]]
    changed = send(client, "patch", f"/api/v1/deals/{deal['id']}/", {"value": "512000.50", "currency": "eur"})
    assert changed.json()["value"] == "512000.50" and changed.json()["currency"] == "EUR"
    refused = error_of(send(client, "patch", f"/api/v1/deals/{deal['id']}/", {"currency": "ZŁOTE"}))
    assert list(refused["fields"]) == ["currency"] and "ZŁOTE" in refused["fields"]["currency"][0]
    refused = error_of(send(client, "patch", f"/api/v1/deals/{deal['id']}/", {"lead": 1, "closed_at": None}))
    assert set(refused["fields"]) == {"lead", "closed_at"}
    listed = send(client, "get", "/api/v1/deals/?ordering=-value").json()["results"]
    assert [row["id"] for row in listed] == [deal["id"]] and listed[0]["contacts"] == [contact["id"]]


def test_a_deal_moves_only_with_what_the_stage_requires(portal_a):
    pipeline, offer, lost = _tender_pipeline(portal_a)
    deal = create(portal_a, "deal", {"title": "Serwis sieci wodociągowej", "pipeline": pipeline.pk})
    client = portal_a.client(logged_in=True)
    path = f"/api/v1/deals/{deal.pk}/move/"

    refused = send(client, "post", path, {"stage": offer.pk})
    assert refused.status_code == 400
    error = error_of(refused)
    assert set(error["fields"]) == {"expected_close_date", "company"}
    assert "Offer sent" in error["fields"]["company"][0]

    company = create(portal_a, "company", {"name": "Gmina Wiśniowa"})
    moved = send(client, "post", path, {"stage": offer.pk,
                                        "values": {"expected_close_date": "2026-12-31", "company": company.pk}})
    assert moved.status_code == 200, moved.content
    assert moved.json()["stage"] == offer.pk and moved.json()["probability"] == offer.probability
    assert moved.json()["stage_summary"] == {"id": offer.pk, "name": offer.name}

    assert list(error_of(send(client, "post", path, {"stage": lost.pk}))["fields"]) == ["lost_reason"]
    closed = send(client, "post", path, {"stage": lost.pk, "values": {"lost_reason": "Cena za wysoka"}})
    assert closed.json()["closed_at"] is not None
    assert list(error_of(send(client, "post", path, {"stage": 987654}))["fields"]) == ["stage"]
    assert list(error_of(send(client, "post", path, {"stage": offer.pk, "after": 987654}))["fields"]) == ["after"]
    assert list(error_of(send(client, "post", path, {}))["fields"]) == ["stage"]


def test_a_moved_card_lands_below_the_one_it_was_dropped_after(portal_a):
    pipeline, _offer, _lost = _tender_pipeline(portal_a)
    with tenant_context(portal_a.tenant):
        first_stage, second_stage = pipeline.stages.get(position=0), pipeline.stages.get(position=1)
    top = create(portal_a, "deal", {"title": "Wodomierze", "pipeline": pipeline.pk, "stage": second_stage.pk})
    bottom = create(portal_a, "deal", {"title": "Pompy", "pipeline": pipeline.pk, "stage": second_stage.pk})
    moving = create(portal_a, "deal", {"title": "Zasuwy", "pipeline": pipeline.pk, "stage": first_stage.pk})
    client = portal_a.client(logged_in=True)
    with tenant_context(portal_a.tenant):
        column = list(Deal.objects.filter(stage=second_stage).order_by("board_position").values_list("pk", flat=True))
    assert column == [bottom.pk, top.pk]  # new cards go on top
    moved = send(client, "post", f"/api/v1/deals/{moving.pk}/move/", {"stage": second_stage.pk, "after": bottom.pk})
    assert moved.status_code == 200, moved.content
    with tenant_context(portal_a.tenant):
        column = list(Deal.objects.filter(stage=second_stage).order_by("board_position").values_list("pk", flat=True))
    assert column == [bottom.pk, moving.pk, top.pk]


def test_pipelines_are_listed_with_their_stages_and_role_limits_apply(portal_a):
    pipeline, offer, _lost = _tender_pipeline(portal_a)
    with tenant_context(portal_a.tenant):
        deals.update_pipeline(pipeline=pipeline, allowed_roles=[Role.objects.get(code="crm_manager")])
    client = portal_a.client(logged_in=True)
    pipelines = send(client, "get", "/api/v1/pipelines/").json()
    tender = next(item for item in pipelines if item["id"] == pipeline.pk)
    assert [stage["name"] for stage in tender["stages"]][:3] == ["New", "Qualification", "Offer sent"]
    assert next(stage for stage in tender["stages"] if stage["id"] == offer.pk)["required_fields"] == [
        "expected_close_date", "company"]
    assert send(client, "get", f"/api/v1/pipelines/{pipeline.pk}/").json()["name"] == "Przetargi publiczne"

    consultant, _member = member_client(portal_a, "doradca@alfa-handel.pl", "consultant", "Ewa Doradczyni")
    assert pipeline.pk not in [item["id"] for item in send(consultant, "get", "/api/v1/pipelines/").json()]
    assert send(consultant, "get", f"/api/v1/pipelines/{pipeline.pk}/").status_code == 404
    deal = create(portal_a, "deal", {"title": "Przetarg na liczniki", "pipeline": pipeline.pk})
    assert send(consultant, "get", f"/api/v1/deals/{deal.pk}/").status_code == 404
    closed = key_client(portal_a, api_key(portal_a, "no_access"))
    assert error_of(send(closed, "get", "/api/v1/pipelines/"))["code"] == "permission_denied"
