"""Modules on/off in a running portal: Settings → Portal → Modules switches them for administrators
only; a module that is off is gone from the menu, dashboard, search and settings, its pages and API
answer 404 saying so, its records come back when it is switched on — and other portals never notice."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from crm.core.tests.test_api import create, error_of, member_client, send
from tenants import modules
from tenants.models import AuditEvent, Tenant

pytestmark = pytest.mark.django_db
OFF_TEXT = "module is switched off in this portal"


@pytest.fixture(autouse=True)
def _generous_rate_limits(settings):
    settings.API_RATE_PER_KEY = settings.API_RATE_PER_PORTAL = "100000/min"


def _admin(portal) -> Client:
    client = portal.client(logged_in=True)
    client.cookies["django_language"] = "en"
    return client


def _switch(client: Client, *, off: set[str], host: str | None = None):
    """Submit the Modules form with every module ticked except ``off``."""
    extra = {"HTTP_HOST": host} if host else {}
    return client.post("/settings/portal/modules/", {"modules": [key for key in modules.KEYS if key not in off]},
                       **extra)


def _modules_of(portal) -> dict:
    return Tenant.objects.get(pk=portal.tenant.pk).modules


def test_switching_tasks_off_hides_them_everywhere_and_on_again_brings_them_back(portal_a):
    task = create(portal_a, "task", {"title": "Zadzwonić do hurtowni Mazur"})
    client = _admin(portal_a)
    assert 'href="/crm/tasks/"' in client.get("/").content.decode()

    response = _switch(client, off={"tasks"})
    assert response.status_code == 302 and response["Location"].endswith("/settings/portal/#modules")
    assert _modules_of(portal_a) == {"tasks": False}

    home = client.get("/").content.decode()
    assert "/crm/tasks/" not in home  # menu, the "My tasks" widget, "New task", the calendar link
    for path in ("/crm/tasks/", f"/crm/tasks/{task.pk}/", "/crm/tasks/calendar/", "/crm/contacts/1/add/task/"):
        page = client.get(path)
        assert page.status_code == 404, path
        assert OFF_TEXT in page.content.decode() and "Tasks" in page.content.decode()
        assert '<nav' in page.content.decode()  # the web app's own page, inside the app shell
    error = error_of(send(client, "get", f"/api/v1/tasks/{task.pk}/"))
    assert error["code"] == "module_off" and OFF_TEXT in error["message"]
    assert send(client, "post", "/api/v1/tasks/", {"title": "Nowe"}).status_code == 404
    found = send(client, "get", "/api/v1/search/?q=hurtowni+Mazur").json()["results"]
    assert found == []

    assert _switch(client, off=set()).status_code == 302
    assert _modules_of(portal_a) == {}
    page = client.get(f"/crm/tasks/{task.pk}/")
    assert page.status_code == 200 and "Zadzwonić do hurtowni Mazur" in page.content.decode()
    assert send(client, "get", f"/api/v1/tasks/{task.pk}/").json()["title"] == "Zadzwonić do hurtowni Mazur"
    assert [hit["id"] for hit in send(client, "get", "/api/v1/search/?q=hurtowni+Mazur").json()["results"]] == [
        task.pk]


def test_deals_off_leaves_them_out_of_menu_settings_hub_checklist_and_dashboard(portal_a):
    client = _admin(portal_a)
    home = client.get("/").content.decode()
    assert "/settings/crm/pipelines/" in home and 'href="/crm/deals/board/"' in home  # checklist, menu
    assert _switch(client, off={"leads", "deals", "quotes"}).status_code == 302

    home = client.get("/").content.decode()
    for link in ("/crm/deals/", "/crm/forecast/", "/crm/leads/", "/crm/quotes/", "/settings/crm/pipelines/"):
        assert link not in home, link
    assert 'id="dash-pipeline"' not in home
    assert 'href="/crm/contacts/"' in home and 'href="/crm/invoices/"' in home
    hub = client.get("/settings/").content.decode()
    for link in ("/settings/crm/pipelines/", "/settings/crm/quotes/", "/settings/crm/conversion/"):
        assert link not in hub, link
    assert "/settings/crm/invoices/" in hub and "/settings/crm/fields/" in hub
    for path in ("/crm/deals/board/", "/crm/forecast/", "/settings/crm/pipelines/", "/crm/deals/new/"):
        assert client.get(path).status_code == 404, path
    for path in ("/api/v1/pipelines/", "/api/v1/forecast/", "/api/v1/leads/", "/api/v1/export/deal/"):
        assert error_of(send(client, "get", path))["code"] == "module_off", path
    assert client.get("/crm/contacts/").status_code == 200


def test_calls_and_meetings_off_keep_notes(portal_a):
    contact = create(portal_a, "contact", {"first_name": "Anna", "last_name": "Nowak"})
    client = _admin(portal_a)
    assert _switch(client, off={"activities"}).status_code == 302
    page = client.get(f"/crm/contacts/{contact.pk}/").content.decode()
    assert f"/crm/contacts/{contact.pk}/add/note/" in page
    assert "/add/call/" not in page and "/add/meeting/" not in page
    assert client.get(f"/crm/contacts/{contact.pk}/add/call/").status_code == 404
    refused = send(client, "post", "/api/v1/activities/", {"entity": "contact", "record_id": contact.pk,
                                                           "kind": "call", "starts_at": "2026-11-20T09:30:00+01:00"})
    assert refused.status_code == 404 and OFF_TEXT in error_of(refused)["message"]
    note = send(client, "post", "/api/v1/activities/", {"entity": "contact", "record_id": contact.pk,
                                                        "kind": "note", "body": "Oddzwoni w piątek."})
    assert note.status_code == 201, note.content
    assert 'id="dash-today"' not in client.get("/").content.decode()


def test_a_combination_that_breaks_a_module_is_refused_on_the_page(portal_a):
    client = _admin(portal_a)
    response = _switch(client, off={"products"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "module needs" in body and "Products" in body and "Quotes" in body
    assert _modules_of(portal_a) == {}
    assert client.get("/crm/products/").status_code == 200


def test_only_administrators_switch_modules(portal_a):
    client, _member_id = member_client(portal_a, "piotr.wisniewski@alfa-handel.pl", "salesperson")
    assert _switch(client, off={"tasks"}).status_code == 403
    assert client.get("/settings/portal/").status_code == 403
    assert _modules_of(portal_a) == {}
    assert not AuditEvent.objects.filter(tenant=portal_a.tenant, action="portal.modules_changed").exists()


def test_one_portal_switching_off_does_not_touch_another(portal_a, portal_b):
    admin_a = _admin(portal_a)
    assert _switch(admin_a, off={"tasks", "invoices"}).status_code == 302
    admin_b = _admin(portal_b)
    assert admin_b.get("/crm/tasks/").status_code == 200
    assert 'href="/crm/invoices/"' in admin_b.get("/").content.decode()
    assert send(admin_b, "get", "/api/v1/tasks/").status_code == 200
    # A's administrator aiming at B's host is not signed in there: nothing of B changes.
    response = _switch(admin_a, off={"products", "quotes"}, host=portal_b.host)
    assert response.status_code == 302 and response["Location"].startswith("/auth/login/")
    assert _modules_of(portal_b) == {}
    assert _modules_of(portal_a) == {"tasks": False, "invoices": False}
    with tenant_context(Tenant.objects.get(pk=portal_b.tenant.pk)):
        assert modules.states() == dict.fromkeys(modules.KEYS, True)


def _home_queries(client: Client) -> int:
    client.get("/")  # warm the per-process caches (routing, session) first
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    return len(queries)


def test_the_home_page_costs_no_query_per_module(portal_a):
    client = _admin(portal_a)
    all_on = _home_queries(client)
    # Modules without a dashboard widget: exactly the same queries, whatever is stored.
    assert _switch(client, off={"quotes", "products", "invoices"}).status_code == 302
    assert _home_queries(client) == all_on
    # Every module off: widgets disappear, so never more.
    assert _switch(client, off=set(modules.KEYS)).status_code == 302
    assert _home_queries(client) <= all_on
