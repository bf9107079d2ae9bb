"""Activities over the API: logged on a record the caller may read, listed per record, changed
by their author or the record's editors."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from crm.core.tests.test_api import create, error_of, member_client, send

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _generous_rate_limits(settings):
    settings.API_RATE_PER_KEY = settings.API_RATE_PER_PORTAL = "100000/min"


def test_activities_are_logged_listed_changed_and_deleted(portal_a):
    deal = create(portal_a, "deal", {"title": "Dostawa laptopów dla szkoły"})
    client = portal_a.client(logged_in=True)
    call = send(client, "post", "/api/v1/activities/", {
        "entity": "deal", "record_id": deal.pk, "kind": "call", "subject": "Rozmowa z dyrektorką",
        "direction": "outbound", "starts_at": "2026-11-20T09:30:00+01:00", "outcome": "Prosi o ofertę"})
    assert call.status_code == 201, call.content
    call = call.json()
    assert call["author_summary"]["name"] == "Joanna Kowalska"
    refused = error_of(send(client, "post", "/api/v1/activities/", {"entity": "deal", "record_id": deal.pk,
                                                                     "kind": "meeting"}))
    assert list(refused["fields"]) == ["starts_at"]
    note = send(client, "post", "/api/v1/activities/", {"entity": "deal", "record_id": deal.pk, "kind": "note",
                                                        "body": "Budżet zatwierdzony przez radę rodziców."}).json()

    listed = send(client, "get", f"/api/v1/activities/?entity=deal&record_id={deal.pk}").json()["results"]
    assert [item["id"] for item in listed] == [note["id"], call["id"]]
    missing = error_of(send(client, "get", "/api/v1/activities/"))
    assert set(missing["fields"]) == {"entity", "record_id"}

    changed = send(client, "patch", f"/api/v1/activities/{call['id']}/", {"is_done": True, "ends_at":
                                                                          "2026-11-20T09:50:00+01:00"})
    assert changed.status_code == 200 and changed.json()["is_done"] is True
    refused = error_of(send(client, "patch", f"/api/v1/activities/{call['id']}/", {"entity": "contact"}))
    assert list(refused["fields"]) == ["entity"]
    assert send(client, "delete", f"/api/v1/activities/{note['id']}/").status_code == 204
    assert send(client, "get", f"/api/v1/activities/{note['id']}/").status_code == 404
    with tenant_context(portal_a.tenant):
        assert Activity.objects.get(pk=note["id"]).deleted_at is not None


def test_activities_follow_the_rights_on_their_record(portal_a):
    deal = create(portal_a, "deal", {"title": "Serwis klimatyzacji"})
    client = portal_a.client(logged_in=True)
    note = send(client, "post", "/api/v1/activities/", {"entity": "deal", "record_id": deal.pk, "kind": "note",
                                                        "body": "Poufna notatka o rabacie."}).json()
    guest, _guest_id = member_client(portal_a, "gosc.serwis@alfa-handel.pl", "guest")
    assert send(guest, "get", f"/api/v1/activities/{note['id']}/").status_code == 404
    assert send(guest, "get", f"/api/v1/activities/?entity=deal&record_id={deal.pk}").status_code == 404
    assert send(guest, "post", "/api/v1/activities/", {"entity": "deal", "record_id": deal.pk, "kind": "note",
                                                       "body": "Hej"}).status_code == 404
    consultant, _consultant_id = member_client(portal_a, "konsultantka@alfa-handel.pl", "consultant")
    assert send(consultant, "get", f"/api/v1/activities/{note['id']}/").status_code == 200
    refused = send(consultant, "patch", f"/api/v1/activities/{note['id']}/", {"body": "Zmienione"})
    assert refused.status_code == 403 and error_of(refused)["code"] == "permission_denied"
