"""The dashboard at ``/``: the day's work, the pipeline, recent records and the setup checklist."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.activities.services import add_activity
from crm.core import services
from crm.deals.models import Pipeline
from identity.accounts.models import User
from identity.members.models import Membership, Role
from identity.members.services import add_member, assign

pytestmark = pytest.mark.django_db


def _admin(portal) -> Membership:
    return Membership.objects.select_related("user").get(user=portal.owner)


def _salesperson(portal, email="piotr.wisniewski@alfa-handel.pl", name="Piotr Wiśniewski") -> tuple[Client, Membership]:
    with tenant_context(portal.tenant):
        user = User.objects.create_user(email=email, password=portal.password, full_name=name)
        member = assign(membership=add_member(user=user), role=Role.objects.get(code="salesperson"))
    client = Client(HTTP_HOST=portal.host, HTTP_ACCEPT_LANGUAGE="en")
    with tenant_context(portal.tenant):
        assert client.login(username=email, password=portal.password)
    return client, member


def _english(portal) -> Client:
    client = portal.client(logged_in=True)
    client.cookies["django_language"] = "en"
    return client


def _fill(portal, count: int) -> None:
    """Tasks, deals, calls and history for the portal owner: ``count`` of each."""
    now = timezone.now()
    with tenant_context(portal.tenant):
        admin = _admin(portal)
        pipeline = Pipeline.objects.get(is_default=True)
        stages = list(pipeline.stages.order_by("position"))
        for index in range(count):
            services.create_record(actor=admin, code="task", values={
                "title": f"Oddzwonić do klienta {index}", "priority": "urgent",
                "deadline": now + datetime.timedelta(days=index - 1)})
            deal = services.create_record(actor=admin, code="deal", values={
                "title": f"Dostawa mąki {index}", "value": Decimal("12500.00"), "stage": stages[index % 4].pk})
            company = services.create_record(actor=admin, code="company", values={"name": f"Piekarnia Żytnia {index}"})
            add_activity(actor=admin, entity="company", record_id=company.pk, kind="call", subject=f"Telefon {index}",
                         starts_at=now.replace(hour=11, minute=0))
            services.update_record(actor=admin, record=deal, values={"probability": 40})


def test_dashboard_shows_my_tasks_with_overdue_highlighted_and_the_pipeline(portal_a):
    _fill(portal_a, 3)
    body = _english(portal_a).get("/").content.decode()
    assert "Welcome, Joanna" in body
    assert "Oddzwonić do klienta 0" in body  # overdue: its deadline was yesterday
    assert 'class="is-overdue"' in body
    assert "/crm/tasks/?tab=overdue" in body
    assert "Telefon 0" in body and "Piekarnia Żytnia 0" in body  # today's call with its company
    assert "Dostawa mąki 2" in body  # recently worked on
    assert "weighted open pipeline" in body
    assert "PLN\u00a015,000" in body  # 3 × 12 500 × 40 %


def test_money_is_written_the_polish_way_for_polish_readers(portal_a):
    _fill(portal_a, 3)
    client = portal_a.client(logged_in=True)
    client.cookies["django_language"] = "pl"
    body = client.get("/").content.decode()
    assert "15\u00a0000\u00a0zł" in body


@pytest.mark.parametrize("count", [3, 30])
def test_dashboard_query_count_does_not_grow_with_records(portal_a, django_assert_max_num_queries, count):
    _fill(portal_a, count)
    client = _english(portal_a)
    client.get("/")
    with django_assert_max_num_queries(24):
        assert client.get("/").status_code == 200


def test_a_new_portal_gets_an_inviting_dashboard_with_the_setup_checklist(portal_a):
    body = _english(portal_a).get("/").content.decode()
    assert "Set up your portal" in body
    assert "Nothing waiting for you." in body
    assert "No calls or meetings planned for today." in body
    for address in ("/settings/portal/", "/settings/people/", "/settings/crm/pipelines/", "/settings/crm/lists/",
                    "/settings/crm/fields/", "/crm/contacts/new/", "/crm/deals/new/", "/auth/two-factor/setup/"):
        assert f'href="{address}"' in body, address
    assert "0%" in body


def test_checklist_items_follow_what_the_portal_really_holds(portal_a):
    from crm.core.custom_fields import create_custom_field
    from crm.core.selectors_dashboard import setup_checklist
    from crm.deals.services import update_stage
    from crm.dictionaries.models import Choice

    with tenant_context(portal_a.tenant):
        admin = _admin(portal_a)
        done = {item.key: item.done for item in setup_checklist(admin)}
        assert not any(done[key] for key in ("people", "pipeline", "sources", "fields", "contact", "deal"))
        create_custom_field(entity="deal", code="numer_umowy", label="Numer umowy", field_type="text")
        services.create_record(actor=admin, code="contact", values={"last_name": "Żółkiewski"})
        update_stage(stage=Pipeline.objects.get(is_default=True).stages.order_by("position").first(), probability=5)
        Choice.objects.filter(kind="source").first().delete()
        done = {item.key: item.done for item in setup_checklist(admin)}
        assert done["fields"] and done["contact"] and done["pipeline"] and done["sources"]
        assert not done["deal"] and not done["two_factor"]
        assert setup_checklist(admin, seen={"pipeline"})[2].done


def test_the_checklist_can_be_hidden_and_a_starting_list_kept_as_it_is(portal_a):
    client = _english(portal_a)
    assert client.post("/", {"setup": "sources"}).status_code == 302
    body = client.get("/").content.decode()
    assert "Set up your portal" in body and "1 of 8 steps done" in body
    client.post("/", {"setup": "dismiss"})
    assert "Set up your portal" not in client.get("/").content.decode()


def test_a_salesperson_sees_only_what_they_may_read_and_no_checklist(portal_a):
    _fill(portal_a, 2)
    client, member = _salesperson(portal_a)
    with tenant_context(portal_a.tenant):
        services.create_record(actor=member, code="task", values={"title": "Wysłać ofertę do Ćmy"})
    body = client.get("/").content.decode()
    assert "Wysłać ofertę do Ćmy" in body
    assert "Oddzwonić do klienta 0" not in body  # the owner's task
    assert "Set up your portal" not in body
    assert "Dostawa mąki" not in body


def test_the_dashboard_of_portal_a_is_not_served_on_portal_b(portal_a, portal_b):
    client = portal_a.client(logged_in=True)
    response = client.get("/", HTTP_HOST=portal_b.host)
    assert response.status_code == 302 and "/auth/login/" in response["Location"]
    response = client.post("/", {"setup": "dismiss"}, HTTP_HOST=portal_b.host)
    assert response.status_code in (302, 403) and "/auth/login/" in response.get("Location", "/auth/login/")
