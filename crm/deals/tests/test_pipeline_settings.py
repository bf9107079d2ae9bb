"""Settings → Pipelines and stages: administrators only; pipelines created, renamed, switched on and
off, made default and opened to chosen roles; stages added, changed, reordered (buttons and drag) and
deleted with their deals moved — all through crm.deals.services, errors shown on the fields."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from crm.core.custom_fields import create_custom_field
from crm.core.tests.test_api import create, member_client
from crm.deals import services as deals
from crm.deals.models import Deal, Pipeline, Stage, StageKind
from identity.members.models import Role

pytestmark = pytest.mark.django_db
LIST = "/settings/crm/pipelines/"


def _default(portal) -> Pipeline:
    with tenant_context(portal.tenant):
        return deals.default_pipeline()


def _stage_ids(portal, pipeline: Pipeline) -> list[int]:
    with tenant_context(portal.tenant):
        return list(pipeline.stages.order_by("position", "id").values_list("pk", flat=True))


def _stage_data(stage: Stage, **changes) -> dict:
    values = {"name": stage.name, "color": stage.color, "probability": stage.probability, "kind": stage.kind,
              "required_fields": stage.required_fields} | changes
    return {f"stage-{stage.pk}-{key}": value for key, value in values.items()}


def test_only_administrators_reach_the_pipeline_settings(portal_a):
    pipeline = _default(portal_a)
    client, _pk = member_client(portal_a, "handlowiec@alfa-handel.pl", "crm_manager", "Henryk Handlowiec")
    for path in (LIST, f"{LIST}{pipeline.pk}/"):
        assert client.get(path).status_code == 403
    assert client.post(LIST, {"name": "Przejęcie"}).status_code == 403
    assert client.post(f"{LIST}{pipeline.pk}/state/", {"action": "deactivate"}).status_code == 403
    with tenant_context(portal_a.tenant):
        assert not Pipeline.objects.filter(name="Przejęcie").exists()
        assert Pipeline.objects.get(pk=pipeline.pk).is_active


def test_the_list_shows_pipelines_with_their_stages_deals_and_roles_in_few_queries(portal_a):
    pipeline = _default(portal_a)
    with tenant_context(portal_a.tenant):
        deals.create_pipeline(name="Przetargi publiczne", allowed_roles=[Role.objects.get(code="crm_manager")])
        stage = pipeline.stages.order_by("position").first()
    create(portal_a, "deal", {"title": "Audyt księgowy", "pipeline": pipeline.pk, "stage": stage.pk})
    client = portal_a.client(logged_in=True)
    client.get(LIST)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST)
    assert response.status_code == 200 and len(queries) <= 10
    html = response.content.decode()
    assert pipeline.name in html and "Przetargi publiczne" in html
    with tenant_context(portal_a.tenant):
        assert Role.objects.get(code="crm_manager").name in html


def test_a_pipeline_is_created_with_the_usual_stages_and_a_missing_name_is_refused(portal_a):
    client = portal_a.client(logged_in=True)
    refused = client.post(LIST, {"name": "   "}, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400 and "Give the pipeline a name." in refused.content.decode()
    created = client.post(LIST, {"name": "Serwis i naprawy"})
    with tenant_context(portal_a.tenant):
        pipeline = Pipeline.objects.get(name="Serwis i naprawy")
        assert pipeline.stages.count() == 6 and pipeline.is_active
    assert created.status_code == 302 and created["Location"] == f"{LIST}{pipeline.pk}/"
    editor = client.get(created["Location"])
    assert editor.status_code == 200 and editor.content.decode().count('class="stage-row') == 6


def test_a_pipeline_is_renamed_switched_off_and_opened_to_chosen_roles(portal_a):
    with tenant_context(portal_a.tenant):
        pipeline = deals.create_pipeline(name="Eksport")
        manager = Role.objects.get(code="crm_manager")
    client = portal_a.client(logged_in=True)
    url = f"{LIST}{pipeline.pk}/"
    refused = client.post(url, {"pipeline-name": "", "pipeline-is_active": "on"}, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400 and "Give the pipeline a name." in refused.content.decode()
    saved = client.post(url, {"pipeline-name": "Eksport do Niemiec", "pipeline-allowed_roles": [manager.pk]})
    assert saved.status_code == 302
    with tenant_context(portal_a.tenant):
        pipeline.refresh_from_db()
        assert pipeline.name == "Eksport do Niemiec" and not pipeline.is_active
        assert list(pipeline.allowed_roles.all()) == [manager]
    client.post(f"{url}state/", {"action": "activate"})
    client.post(f"{url}state/", {"action": "default"})
    with tenant_context(portal_a.tenant):
        pipeline.refresh_from_db()
        assert pipeline.is_active and pipeline.is_default
        assert Pipeline.objects.filter(is_default=True).count() == 1


def test_a_stage_is_changed_and_bad_input_is_shown_on_its_field(portal_a):
    pipeline = _default(portal_a)
    with tenant_context(portal_a.tenant):
        create_custom_field(entity="deal", code="numer_umowy", label="Numer umowy", field_type="text")
        offer = pipeline.stages.order_by("position")[2]
    client = portal_a.client(logged_in=True)
    url = f"{LIST}{pipeline.pk}/stages/{offer.pk}/"
    too_likely = client.post(url, _stage_data(offer, probability=150), HTTP_ACCEPT_LANGUAGE="en")
    html = too_likely.content.decode()
    assert too_likely.status_code == 400 and "less than or equal to 100" in html
    assert f'id="stage-{offer.pk}" data-stage' in html and 'class="form-row probability invalid"' in html
    bad_colour = client.post(url, _stage_data(offer, color="red"), HTTP_ACCEPT_LANGUAGE="en")
    assert bad_colour.status_code == 400 and "Choose a colour" in bad_colour.content.decode()
    no_name = client.post(url, _stage_data(offer, name=""), HTTP_ACCEPT_LANGUAGE="en")
    assert no_name.status_code == 400 and "field-error" in no_name.content.decode()
    saved = client.post(url, _stage_data(offer, name="Oferta wysłana", color="#123abc", probability=40,
                                         required_fields=["expected_close_date", "custom.numer_umowy"]))
    assert saved.status_code == 302
    with tenant_context(portal_a.tenant):
        offer.refresh_from_db()
        assert (offer.name, offer.color, offer.probability) == ("Oferta wysłana", "#123abc", 40)
        assert offer.required_fields == ["expected_close_date", "custom.numer_umowy"]
    editor = client.get(f"{LIST}{pipeline.pk}/").content.decode()
    assert re.search(rf'name="stage-{offer.pk}-required_fields" value="custom.numer_umowy"[^>]*checked', editor)


def test_a_new_open_stage_goes_before_won_and_lost(portal_a):
    with tenant_context(portal_a.tenant):
        pipeline = deals.create_pipeline(name="Szkolenia")
    client = portal_a.client(logged_in=True)
    url = f"{LIST}{pipeline.pk}/stages/add/"
    refused = client.post(url, {"new-name": "", "new-color": "#4f7cff", "new-probability": "60", "new-kind": "open"},
                          HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400 and "field-error" in refused.content.decode()
    added = client.post(url, {"new-name": "Prezentacja demo", "new-color": "#7a5af8", "new-probability": "60",
                              "new-kind": "open", "new-required_fields": ["company"]})
    assert added.status_code == 302
    with tenant_context(portal_a.tenant):
        names = list(pipeline.stages.order_by("position", "id").values_list("name", "kind"))
        assert names[-3][0] == "Prezentacja demo" and [kind for _name, kind in names[-2:]] == ["won", "lost"]
        assert Stage.objects.get(name="Prezentacja demo").required_fields == ["company"]


def test_stages_are_reordered_with_buttons_and_by_dragging(portal_a):
    with tenant_context(portal_a.tenant):
        pipeline = deals.create_pipeline(name="Wynajem")
    client = portal_a.client(logged_in=True)
    first, second, *rest = _stage_ids(portal_a, pipeline)
    client.post(f"{LIST}{pipeline.pk}/stages/{first}/move/", {"direction": "down"})
    assert _stage_ids(portal_a, pipeline)[:2] == [second, first]
    client.post(f"{LIST}{pipeline.pk}/stages/{second}/move/", {"direction": "up"})  # already first: stays
    assert _stage_ids(portal_a, pipeline)[:2] == [second, first]
    dragged = [*reversed(rest), first, second]
    response = client.post(f"{LIST}{pipeline.pk}/stages/order/", {"stage": dragged}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and _stage_ids(portal_a, pipeline) == dragged
    incomplete = client.post(f"{LIST}{pipeline.pk}/stages/order/", {"stage": dragged[:2]}, HTTP_HX_REQUEST="true",
                             HTTP_ACCEPT_LANGUAGE="en")
    assert incomplete.status_code == 400 and "every stage" in incomplete.content.decode()
    assert _stage_ids(portal_a, pipeline) == dragged


def test_deleting_a_stage_asks_where_its_deals_go(portal_a):
    with tenant_context(portal_a.tenant):
        pipeline = deals.create_pipeline(name="Projekty")
        stages = list(pipeline.stages.order_by("position"))
    doomed, target = stages[1], stages[2]
    deal = create(portal_a, "deal", {"title": "Wdrożenie CRM", "pipeline": pipeline.pk, "stage": doomed.pk})
    client = portal_a.client(logged_in=True)
    url = f"{LIST}{pipeline.pk}/stages/{doomed.pk}/delete/"
    confirm = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'name="move_deals_to"' in confirm and doomed.name not in confirm.split("<select", 1)[1]
    refused = client.post(url, {"move_deals_to": ""}, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400 and "choose another stage" in refused.content.decode()
    with tenant_context(portal_a.tenant):
        assert Stage.objects.filter(pk=doomed.pk).exists()
    done = client.post(url, {"move_deals_to": target.pk})
    assert done.status_code == 302
    with tenant_context(portal_a.tenant):
        assert not Stage.objects.filter(pk=doomed.pk).exists()
        assert Deal.objects.get(pk=deal.pk).stage_id == target.pk
    empty = stages[3]
    assert client.post(f"{LIST}{pipeline.pk}/stages/{empty.pk}/delete/", {}).status_code == 302
    with tenant_context(portal_a.tenant):
        assert not Stage.objects.filter(pk=empty.pk).exists()


def test_the_stage_editor_needs_the_same_queries_for_few_or_many_stages(portal_a):
    with tenant_context(portal_a.tenant):
        few = deals.create_pipeline(name="Mały lejek", stages=[{"name": "Nowy"}, {"name": "Wygrany",
                                                                                   "kind": StageKind.WON}])
        many = deals.create_pipeline(name="Duży lejek", stages=[{"name": f"Etap {index}"} for index in range(12)])
    client = portal_a.client(logged_in=True)
    client.get(f"{LIST}{few.pk}/")
    counts = []
    for pipeline in (few, many):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"{LIST}{pipeline.pk}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] and counts[1] <= 14, counts


def test_a_session_of_portal_a_changes_nothing_on_portal_b(portal_a, portal_b):
    pipeline = _default(portal_b)
    stage_ids = _stage_ids(portal_b, pipeline)
    client = portal_a.client(logged_in=True)
    for path, data in [(LIST, {"name": "Włamanie"}), (f"{LIST}{pipeline.pk}/state/", {"action": "deactivate"}),
                       (f"{LIST}{pipeline.pk}/", {"pipeline-name": "Włamanie"}),
                       (f"{LIST}{pipeline.pk}/stages/order/", {"stage": list(reversed(stage_ids))}),
                       (f"{LIST}{pipeline.pk}/stages/{stage_ids[0]}/delete/", {"move_deals_to": stage_ids[1]})]:
        response = client.post(path, data, HTTP_HOST=portal_b.host)
        assert response.status_code in (302, 403, 404), path
        if response.status_code == 302:
            assert "/auth/login/" in response["Location"]
    with tenant_context(portal_b.tenant):
        pipeline.refresh_from_db()
        assert pipeline.is_active and pipeline.name != "Włamanie"
        assert not Pipeline.objects.filter(name="Włamanie").exists()
    assert _stage_ids(portal_b, pipeline) == stage_ids


def test_a_pipeline_of_portal_b_by_guessed_id_is_not_found_on_portal_a(portal_a, portal_b):
    with tenant_context(portal_a.tenant):
        mine = set(Pipeline.objects.values_list("pk", flat=True))
    with tenant_context(portal_b.tenant):
        created = deals.create_pipeline(name="Tylko w Becie")
        while created.pk in mine:
            created = deals.create_pipeline(name="Tylko w Becie")
    client = portal_a.client(logged_in=True)
    assert client.get(f"{LIST}{created.pk}/").status_code == 404
    assert client.post(f"{LIST}{created.pk}/state/", {"action": "deactivate"}).status_code == 404
