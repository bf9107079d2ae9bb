"""The app shell's pages: global search (page and popover) and notifications (page and bell count)."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.core import services
from crm.core.registry import record_types
from crm.deals.models import Pipeline
from identity.accounts.models import User
from identity.members.models import Membership, Role
from identity.members.services import add_member, assign

pytestmark = pytest.mark.django_db


def _admin(portal) -> Membership:
    return Membership.objects.select_related("user").get(user=portal.owner)


def _client(portal) -> Client:
    client = portal.client(logged_in=True)
    client.cookies["django_language"] = "en"
    return client


def _colleague(portal, role="salesperson") -> tuple[Client, Membership]:
    email = "piotr.wisniewski@alfa-handel.pl"
    with tenant_context(portal.tenant):
        user = User.objects.create_user(email=email, password=portal.password, full_name="Piotr Wiśniewski")
        member = assign(membership=add_member(user=user), role=Role.objects.get(code=role))
    client = Client(HTTP_HOST=portal.host)
    client.cookies["django_language"] = "en"
    with tenant_context(portal.tenant):
        assert client.login(username=email, password=portal.password)
    return client, member


def _records(portal, count: int = 1) -> None:
    with tenant_context(portal.tenant):
        admin = _admin(portal)
        for index in range(count):
            company = services.create_record(actor=admin, code="company", values={
                "name": f"Piekarnia Żytnia {index}", "city": "Kraków"})
            services.create_record(actor=admin, code="contact", values={
                "first_name": "Łukasz", "last_name": f"Żółkiewski {index}", "company": company.pk,
                "position": "Prezes zarządu"})
            services.create_record(actor=admin, code="task", values={"title": f"Wysłać katalog Piekarni {index}"})


# --- Search -----------------------------------------------------------------------------------------

def test_search_page_groups_results_by_type_without_polish_letters(portal_a):
    _records(portal_a)
    body = _client(portal_a).get("/search/?q=zytnia").content.decode()
    assert "Piekarnia Żytnia 0" in body
    assert 'id="group-company"' in body
    body = _client(portal_a).get("/search/?q=piekarni").content.decode()
    assert 'id="group-company"' in body and 'id="group-task"' in body

    def group(code):
        start = body.index(f'id="group-{code}"')
        return body[start:body.index("</section>", start)]

    assert "Piekarnia Żytnia 0" in group("company") and "Wysłać katalog Piekarni 0" in group("task")
    assert "/crm/companies/" in body and "/crm/tasks/" in body


def test_htmx_gets_only_the_popover_for_the_search_box(portal_a):
    _records(portal_a)
    response = _client(portal_a).get("/search/?q=zolkiewski", HTTP_HX_REQUEST="true")
    body = response.content.decode().strip()
    assert body.startswith('<div id="search-results" class="search-popover"')
    assert "<html" not in body
    assert '<span class="kind">contact</span>Łukasz Żółkiewski 0 <small class="muted">Prezes zarządu' in body
    assert 'href="/search/?q=zolkiewski"' in body


def test_short_queries_get_a_hint_and_nothing_found_says_so(portal_a):
    client = _client(portal_a)
    assert "Type at least 2 characters." in client.get("/search/?q=z", HTTP_HX_REQUEST="true").content.decode()
    assert "Type at least 2 characters." in client.get("/search/?q=z").content.decode()
    assert "One search box for" in client.get("/search/").content.decode()
    assert "Nothing found for “Brzęczyszczykiewicz”." in client.get(
        "/search/?q=Brzęczyszczykiewicz", HTTP_HX_REQUEST="true").content.decode()
    assert "Nothing found for “Brzęczyszczykiewicz”." in client.get(
        "/search/?q=Brzęczyszczykiewicz").content.decode()


def test_search_finds_only_what_the_member_may_read(portal_a):
    _records(portal_a)
    client, colleague = _colleague(portal_a)
    with tenant_context(portal_a.tenant):
        services.create_record(actor=colleague, code="company", values={"name": "Piekarnia Piotra"})
    body = client.get("/search/?q=piekarnia").content.decode()
    assert "Piekarnia Piotra" in body and "Piekarnia Żytnia" not in body


def test_records_of_portal_b_are_not_found_on_portal_a(portal_a, portal_b):
    with tenant_context(portal_b.tenant):
        services.create_record(actor=_admin(portal_b), code="company", values={"name": "Beta Serwis Chłodniczy"})
    assert "Beta Serwis" not in _client(portal_a).get("/search/?q=chlodniczy").content.decode()


@pytest.mark.parametrize("count", [3, 30])
def test_search_queries_do_not_grow_with_results(portal_a, django_assert_max_num_queries, count):
    _records(portal_a, count)
    client = _client(portal_a)
    client.get("/search/?q=piekarni")
    # The fixed cost of a signed-in request, then one query per record type: constant in the results.
    bound = 6 + len(record_types())
    with django_assert_max_num_queries(bound):
        assert client.get("/search/?q=piekarni").status_code == 200
    with django_assert_max_num_queries(bound):
        assert client.get("/search/?q=piekarni", HTTP_HX_REQUEST="true").status_code == 200


# --- Notifications ----------------------------------------------------------------------------------

def test_notifications_list_overdue_tasks_tasks_given_to_me_and_my_deals_moved_by_others(portal_a):
    _client_b, colleague = _colleague(portal_a, role="crm_manager")
    with tenant_context(portal_a.tenant):
        admin = _admin(portal_a)
        services.create_record(actor=admin, code="task", values={
            "title": "Wysłać umowę", "deadline": timezone.now() - datetime.timedelta(days=2)})
        services.create_record(actor=colleague, code="task", values={"title": "Oddzwonić do Ćmy", "owner": admin.pk})
        handed = services.create_record(actor=colleague, code="task", values={"title": "Przejęte zadanie"})
        services.update_record(actor=colleague, record=handed, values={"owner": admin.pk})
        services.create_record(actor=admin, code="task", values={"title": "Moje własne zadanie"})
        stages = list(Pipeline.objects.get(is_default=True).stages.order_by("position"))
        deal = services.create_record(actor=admin, code="deal", values={"title": "Dostawa mąki", "stage": stages[0].pk})
        services.update_record(actor=colleague, record=deal, values={"stage": stages[2].pk})
        moved_to = stages[2].name
        mine_moved = services.create_record(actor=admin, code="deal", values={"title": "Sam przesunąłem"})
        services.update_record(actor=admin, record=mine_moved, values={"stage": stages[1].pk})
    client_a = _client(portal_a)
    body = client_a.get("/notifications/").content.decode()
    assert "Wysłać umowę" in body
    assert "Oddzwonić do Ćmy" in body and "from Piotr Wiśniewski" in body
    assert "Przejęte zadanie" in body and "handed over to you" in body
    assert "Moje własne zadanie" not in body
    assert "Dostawa mąki" in body and f"<strong>{moved_to}</strong>" in body
    assert "Sam przesunąłem" not in body
    assert client_a.get("/notifications/count/").content.decode() == '<span class="count">4</span>'


def test_no_notifications_leave_the_bell_empty_and_the_page_calm(portal_a):
    client = _client(portal_a)
    assert client.get("/notifications/count/").content.decode() == ""
    assert "You are up to date." in client.get("/notifications/").content.decode()


@pytest.mark.parametrize("count", [3, 30])
def test_the_bell_costs_one_query_for_an_administrator(portal_a, django_assert_max_num_queries, count):
    _client_b, colleague = _colleague(portal_a, role="crm_manager")
    with tenant_context(portal_a.tenant):
        admin = _admin(portal_a)
        for index in range(count):
            services.create_record(actor=colleague, code="task", values={
                "title": f"Zadanie {index}", "owner": admin.pk,
                "deadline": timezone.now() - datetime.timedelta(hours=1)})
    client = _client(portal_a)
    client.get("/notifications/count/")
    # session, account, membership, the portal's security policy (middleware) + one for the three counts
    with django_assert_max_num_queries(6):
        response = client.get("/notifications/count/")
    assert response.content.decode() == f'<span class="count">{2 * count}</span>'
    with django_assert_max_num_queries(9):
        assert client.get("/notifications/").status_code == 200


def test_a_member_with_own_scope_gets_their_count_in_few_queries(portal_a, django_assert_max_num_queries):
    client, colleague = _colleague(portal_a)
    with tenant_context(portal_a.tenant):
        services.create_record(actor=colleague, code="task", values={
            "title": "Spóźnione zadanie Piotra", "deadline": timezone.now() - datetime.timedelta(hours=1)})
        services.create_record(actor=_admin(portal_a), code="task", values={
            "title": "Spóźnione zadanie Joanny", "deadline": timezone.now() - datetime.timedelta(hours=1)})
    client.get("/notifications/count/")
    with django_assert_max_num_queries(9):  # + the member's two rights (tasks, deals) and the role
        assert client.get("/notifications/count/").content.decode() == '<span class="count">1</span>'
    body = client.get("/notifications/").content.decode()
    assert "Spóźnione zadanie Piotra" in body and "Spóźnione zadanie Joanny" not in body
