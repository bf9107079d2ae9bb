"""Task pages: the list and its tabs, the quick status change, the month and week calendar."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.activities.services import add_activity
from crm.core import services
from crm.core.models import ChangeEntry
from crm.tasks.models import Task
from identity.accounts.models import User
from identity.members.models import Membership, Role
from identity.members.services import add_member, assign

pytestmark = pytest.mark.django_db

WARSAW = zoneinfo.ZoneInfo("Europe/Warsaw")


def _admin(portal) -> Membership:
    return Membership.objects.select_related("user").get(user=portal.owner)


def _client(portal) -> Client:
    client = portal.client(logged_in=True)
    client.cookies["django_language"] = "en"
    return client


def _colleague(portal, email="piotr.wisniewski@alfa-handel.pl", name="Piotr Wiśniewski",
               role="salesperson") -> tuple[Client, Membership]:
    with tenant_context(portal.tenant):
        user = User.objects.create_user(email=email, password=portal.password, full_name=name)
        member = assign(membership=add_member(user=user), role=Role.objects.get(code=role))
    client = Client(HTTP_HOST=portal.host)
    client.cookies["django_language"] = "en"
    with tenant_context(portal.tenant):
        assert client.login(username=email, password=portal.password)
    return client, member


def _task(actor, **values) -> Task:
    return services.create_record(actor=actor, code="task", values={"title": "Oddzwonić do klienta"} | values)


def test_my_tasks_list_shows_priority_status_deadline_and_subtask_progress(portal_a):
    with tenant_context(portal_a.tenant):
        admin = _admin(portal_a)
        late = _task(admin, title="Wysłać umowę do podpisu", priority="critical",
                     deadline=timezone.now() - datetime.timedelta(days=1))
        parent = _task(admin, title="Wdrożenie w Piekarni Żytniej",
                       deadline=timezone.now() + datetime.timedelta(days=3))
        _task(admin, title="Import kontaktów", parent=parent.pk, status="completed")
        _task(admin, title="Szkolenie zespołu", parent=parent.pk)
        _task(admin, title="Zrobione dawno", status="completed")
    body = _client(portal_a).get("/crm/tasks/").content.decode()
    assert "Wysłać umowę do podpisu" in body and "Wdrożenie w Piekarni Żytniej" in body
    assert f'id="task-{late.pk}" class="is-overdue"' in body
    assert "prio-critical" in body
    assert "1/2" in body  # one of two subtasks finished
    assert "Zrobione dawno" not in body  # finished tasks only under "Finished"
    assert "Zrobione dawno" in _client(portal_a).get("/crm/tasks/?state=done").content.decode()
    assert 'href="/crm/tasks/new/"' in body and 'href="/crm/tasks/calendar/"' in body


def test_tabs_filter_by_my_part_in_the_task(portal_a):
    _client_b, colleague = _colleague(portal_a)
    with tenant_context(portal_a.tenant):
        admin = _admin(portal_a)
        _task(admin, title="Moje zadanie")
        _task(colleague, title="Zadanie z moim udziałem", participants=[admin.pk])
        _task(admin, title="Zlecone Piotrowi", owner=colleague.pk)
        _task(colleague, title="Obserwuję to", observers=[admin.pk])
        _task(admin, title="Spóźnione", deadline=timezone.now() - datetime.timedelta(hours=2))
    client = _client(portal_a)

    def titles(tab):
        body = client.get(f"/crm/tasks/?tab={tab}").content.decode()
        return {title for title in ("Moje zadanie", "Zadanie z moim udziałem", "Zlecone Piotrowi", "Obserwuję to",
                                    "Spóźnione") if title in body}

    assert titles("mine") == {"Moje zadanie", "Spóźnione"}
    assert titles("participate") == {"Zadanie z moim udziałem"}
    assert titles("created") == {"Moje zadanie", "Zlecone Piotrowi", "Spóźnione"}
    assert titles("observe") == {"Obserwuję to"}
    assert titles("overdue") == {"Spóźnione"}
    assert titles("all") == {"Moje zadanie", "Zadanie z moim udziałem", "Zlecone Piotrowi", "Obserwuję to",
                             "Spóźnione"}


def test_a_member_with_own_scope_sees_only_their_tasks_and_no_all_tab(portal_a):
    client, colleague = _colleague(portal_a)
    with tenant_context(portal_a.tenant):
        _task(_admin(portal_a), title="Zadanie Joanny")
        _task(colleague, title="Zadanie Piotra")
    body = client.get("/crm/tasks/").content.decode()
    assert "Zadanie Piotra" in body and "Zadanie Joanny" not in body
    assert "?tab=all" not in body
    assert "Zadanie Joanny" not in client.get("/crm/tasks/?tab=all").content.decode()


@pytest.mark.parametrize("count", [3, 30])
def test_task_list_queries_do_not_grow_with_rows(portal_a, django_assert_max_num_queries, count):
    with tenant_context(portal_a.tenant):
        admin = _admin(portal_a)
        for index in range(count):
            parent = _task(admin, title=f"Zadanie {index}", deadline=timezone.now() + datetime.timedelta(hours=index))
            _task(admin, title=f"Podzadanie {index}", parent=parent.pk)
    client = _client(portal_a)
    client.get("/crm/tasks/")
    with django_assert_max_num_queries(10):
        response = client.get("/crm/tasks/")
    assert response.status_code == 200 and "Zadanie 2" in response.content.decode()


def test_quick_status_change_swaps_the_row_and_is_in_the_history(portal_a):
    with tenant_context(portal_a.tenant):
        task = _task(_admin(portal_a), title="Przygotować ofertę")
    response = _client(portal_a).post(f"/crm/tasks/{task.pk}/quick-status/", {"status": "in_progress"},
                                      HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith(f'<tr id="task-{task.pk}"')
    assert '<option value="in_progress" selected>' in body
    with tenant_context(portal_a.tenant):
        assert Task.objects.get(pk=task.pk).status == "in_progress"
        line = ChangeEntry.objects.get(entity="task", record_id=task.pk, field="status")
        assert (line.old_value, line.new_value) == ("new", "in progress")


def test_a_task_with_open_dependencies_cannot_be_completed_and_says_why(portal_a):
    with tenant_context(portal_a.tenant):
        admin = _admin(portal_a)
        contract = _task(admin, title="Podpisać umowę")
        invoice = _task(admin, title="Wystawić fakturę", depends_on=[contract.pk])
    response = _client(portal_a).post(f"/crm/tasks/{invoice.pk}/quick-status/", {"status": "completed"},
                                      HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "Finish the tasks this one depends on first: Podpisać umowę." in body
    assert '<option value="new" selected>' in body
    with tenant_context(portal_a.tenant):
        assert Task.objects.get(pk=invoice.pk).status == "new"


def test_quick_status_without_javascript_goes_back_to_the_list(portal_a):
    with tenant_context(portal_a.tenant):
        task = _task(_admin(portal_a))
    client = _client(portal_a)
    response = client.post(f"/crm/tasks/{task.pk}/quick-status/",
                           {"status": "completed", "next": "/crm/tasks/?tab=mine"})
    assert response.status_code == 302 and response["Location"] == "/crm/tasks/?tab=mine"
    response = client.post(f"/crm/tasks/{task.pk}/quick-status/", {"status": "done", "next": "https://evil.example/"})
    assert response["Location"] == "/crm/tasks/"
    assert "Choose one of the statuses." in client.get("/crm/tasks/").content.decode()


def test_someone_elses_task_cannot_be_changed_by_a_member_with_own_scope(portal_a):
    client, _colleague_member = _colleague(portal_a)
    with tenant_context(portal_a.tenant):
        task = _task(_admin(portal_a), title="Zadanie Joanny")
    assert client.post(f"/crm/tasks/{task.pk}/quick-status/", {"status": "completed"}).status_code == 404
    with tenant_context(portal_a.tenant):
        assert Task.objects.get(pk=task.pk).status == "new"


def test_a_task_of_portal_b_is_not_found_on_portal_a(portal_a, portal_b):
    with tenant_context(portal_b.tenant):
        task = _task(_admin(portal_b), title="Zadanie Bety")
    with tenant_context(portal_a.tenant):
        Task.objects.filter(pk=task.pk).delete()
    client = _client(portal_a)
    assert client.post(f"/crm/tasks/{task.pk}/quick-status/", {"status": "completed"}).status_code == 404
    assert "Zadanie Bety" not in client.get("/crm/tasks/?tab=all").content.decode()


def test_posts_with_portal_a_session_on_portal_b_host_are_refused(portal_a, portal_b):
    with tenant_context(portal_b.tenant):
        task = _task(_admin(portal_b), title="Zadanie Bety")
    response = _client(portal_a).post(f"/crm/tasks/{task.pk}/quick-status/", {"status": "completed"},
                                      HTTP_HOST=portal_b.host)
    assert response.status_code == 302 and "/auth/login/" in response["Location"]
    with tenant_context(portal_b.tenant):
        assert Task.objects.get(pk=task.pk).status == "new"


def test_month_calendar_shows_deadlines_and_my_calls_by_the_portal_time_zone(portal_a):
    late_evening = datetime.datetime(2026, 3, 10, 23, 30, tzinfo=WARSAW)  # 22:30 UTC
    just_after_midnight = datetime.datetime(2026, 3, 12, 0, 30, tzinfo=WARSAW)  # 23:30 UTC on the 11th
    with tenant_context(portal_a.tenant):
        admin = _admin(portal_a)
        _task(admin, title="Wysłać ofertę wieczorem", deadline=late_evening)
        _task(admin, title="Zadanie po północy", deadline=just_after_midnight)
        company = services.create_record(actor=admin, code="company", values={"name": "Hurtownia Ćma S.A."})
        add_activity(actor=admin, entity="company", record_id=company.pk, kind="meeting",
                     subject="Spotkanie w Łodzi", starts_at=datetime.datetime(2026, 3, 11, 10, 0, tzinfo=WARSAW))
    response = _client(portal_a).get("/crm/tasks/calendar/?view=month&date=2026-03-15")
    body = response.content.decode()
    assert response.status_code == 200

    def cell(day):
        start = body.index(f'aria-label="{day}')
        return body[start:body.index("</section>", start)]

    assert "Wysłać ofertę wieczorem" in cell("Tuesday, 10 March 2026")
    assert "23:30" in cell("Tuesday, 10 March 2026")
    assert "Zadanie po północy" in cell("Thursday, 12 March 2026")
    assert "Spotkanie w Łodzi" in cell("Wednesday, 11 March 2026")
    assert "date=2026-02-01" in body and "date=2026-04-01" in body  # previous and next month


def test_week_calendar_and_navigation(portal_a):
    with tenant_context(portal_a.tenant):
        _task(_admin(portal_a), title="Przegląd kwartalny",
              deadline=datetime.datetime(2026, 3, 11, 9, 0, tzinfo=WARSAW))
    client = _client(portal_a)
    body = client.get("/crm/tasks/calendar/?view=week&date=2026-03-11").content.decode()
    assert "Przegląd kwartalny" in body
    assert "date=2026-03-02" in body and "date=2026-03-16" in body  # the weeks before and after
    assert "Nothing planned." in body
    assert client.get("/crm/tasks/calendar/?view=year&date=not-a-date").status_code == 200


def test_a_colleague_s_tasks_and_calls_are_not_on_my_calendar(portal_a):
    client, colleague = _colleague(portal_a)
    when = timezone.now() + datetime.timedelta(hours=1)
    with tenant_context(portal_a.tenant):
        admin = _admin(portal_a)
        _task(admin, title="Zadanie Joanny", deadline=when)
        _task(colleague, title="Zadanie Piotra", deadline=when)
    body = client.get("/crm/tasks/calendar/").content.decode()
    assert "Zadanie Piotra" in body and "Zadanie Joanny" not in body


@pytest.mark.parametrize("count", [3, 30])
def test_calendar_queries_do_not_grow(portal_a, django_assert_max_num_queries, count):
    now = timezone.localtime()
    with tenant_context(portal_a.tenant):
        admin = _admin(portal_a)
        company = services.create_record(actor=admin, code="company", values={"name": "Piekarnia Żytnia s.c."})
        for index in range(count):
            _task(admin, title=f"Zadanie {index}", deadline=now + datetime.timedelta(hours=index))
            add_activity(actor=admin, entity="company", record_id=company.pk, kind="call", subject=f"Telefon {index}",
                         starts_at=now + datetime.timedelta(hours=index))
    client = _client(portal_a)
    client.get("/crm/tasks/calendar/")
    with django_assert_max_num_queries(10):
        assert client.get("/crm/tasks/calendar/?view=week").status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get("/crm/tasks/calendar/").status_code == 200
