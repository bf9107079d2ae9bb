"""Tasks over the API: people and dependencies by id, completing only after dependencies, links to
records, and a record's timeline with its tasks, activities and history."""

from __future__ import annotations

import pytest

from crm.core.tests.test_api import create, error_of, owner_of, send

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _generous_rate_limits(settings):
    settings.API_RATE_PER_KEY = settings.API_RATE_PER_PORTAL = "100000/min"


def test_tasks_with_people_dependencies_and_links(portal_a):
    owner = owner_of(portal_a)
    client = portal_a.client(logged_in=True)
    offer = send(client, "post", "/api/v1/tasks/", {"title": "Przygotować ofertę", "priority": "urgent",
                                                    "deadline": "2026-12-01T10:00:00+01:00"}).json()
    call = send(client, "post", "/api/v1/tasks/", {"title": "Zadzwonić do klienta", "participants": [owner.pk],
                                                   "observers": [owner.pk], "depends_on": [offer["id"]]})
    assert call.status_code == 201, call.content
    call = call.json()
    assert call["participants"] == [owner.pk] and call["depends_on"] == [offer["id"]] and call["links"] == []

    refused = send(client, "patch", f"/api/v1/tasks/{call['id']}/", {"status": "completed"})
    error = error_of(refused)
    assert list(error["fields"]) == ["status"] and "Przygotować ofertę" in error["fields"]["status"][0]
    assert send(client, "patch", f"/api/v1/tasks/{offer['id']}/", {"status": "completed"}).json()["completed_at"]
    assert send(client, "patch", f"/api/v1/tasks/{call['id']}/", {"status": "completed"}).status_code == 200
    refused = error_of(send(client, "patch", f"/api/v1/tasks/{call['id']}/", {"participants": [987654]}))
    assert list(refused["fields"]) == ["participants"]

    deal = create(portal_a, "deal", {"title": "Wdrożenie w Hucie Łabędy"})
    linked = send(client, "post", f"/api/v1/tasks/{call['id']}/links/", {"entity": "deal", "record_id": deal.pk})
    assert linked.status_code == 201 and linked.json()["links"] == [{"entity": "deal", "record_id": deal.pk}]
    assert send(client, "post", f"/api/v1/tasks/{call['id']}/links/",
                {"entity": "deal", "record_id": 987654}).status_code == 404
    listed = send(client, "get", "/api/v1/tasks/?ordering=deadline").json()["results"]
    assert [row["id"] for row in listed] == [offer["id"], call["id"]]  # no deadline comes last
    assert listed[1]["links"] == [{"entity": "deal", "record_id": deal.pk}]

    send(client, "post", "/api/v1/activities/", {"entity": "deal", "record_id": deal.pk, "kind": "note",
                                                 "body": "Klient prosi o termin w styczniu."})
    send(client, "patch", f"/api/v1/deals/{deal.pk}/", {"title": "Wdrożenie w Hucie Łabędy – etap I"})
    timeline = send(client, "get", f"/api/v1/deals/{deal.pk}/timeline/").json()["results"]
    kinds = [item["kind"] for item in timeline]
    assert {"activity", "task", "change"} == set(kinds)
    task_item = next(item for item in timeline if item["kind"] == "task")
    assert task_item["item"]["title"] == "Zadzwonić do klienta"
    note = next(item for item in timeline if item["kind"] == "activity")
    assert note["item"]["body"] == "Klient prosi o termin w styczniu."

    unlinked = send(client, "delete", f"/api/v1/tasks/{call['id']}/links/", {"entity": "deal", "record_id": deal.pk})
    assert unlinked.status_code == 200 and unlinked.json()["links"] == []
