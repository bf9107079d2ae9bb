"""Task pages: the list with its tabs (mine, I participate, I created, I observe, overdue, all), a
quick status change from the list, and a month / week calendar of deadlines, calls and meetings.

The record page (``/crm/tasks/<id>/``) and the form for a new task (``/crm/tasks/new/``) are the
generic record pages of crm.core."""

from __future__ import annotations

import calendar as calendar_module
import datetime
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from crm.core import search, selectors
from crm.core import selectors_dashboard as reads
from crm.core.filters import compile_filter, compile_ordering
from crm.core.services import update_record
from crm.tasks.models import OPEN_STATUSES, Task, TaskStatus
from identity.members import permissions
from identity.members.models import Scope

PAGE_SIZE = 50
MONTH_CELL_ITEMS = 4
ME = "me"
TABS = [
    ("mine", gettext_lazy("My tasks"), {"field": "owner", "op": "eq", "value": ME}),
    ("participate", gettext_lazy("I participate"), {"field": "participants", "op": "has", "value": ME}),
    ("created", gettext_lazy("I created"), {"field": "created_by", "op": "eq", "value": ME}),
    ("observe", gettext_lazy("I observe"), {"field": "observers", "op": "has", "value": ME}),
    ("overdue", gettext_lazy("Overdue"), {"and": [
        {"field": "owner", "op": "eq", "value": ME},
        {"field": "deadline", "op": "eq", "value": {"relative": "overdue"}},
        {"field": "status", "op": "in", "value": list(OPEN_STATUSES)}]}),
    ("all", gettext_lazy("All"), {}),
]
STATES = [("open", gettext_lazy("Open")), ("done", gettext_lazy("Finished")), ("any", gettext_lazy("Any status"))]
FINISHED = (TaskStatus.COMPLETED, TaskStatus.REJECTED)


def _member_of(request: HttpRequest):
    """The signed-in member of this portal; the pages mean nothing to anyone else."""
    if not request.member:
        raise PermissionDenied
    return request.member


def _sees_others(member) -> bool:
    """The "All" tab is for people whose reading reaches beyond their own tasks (a department scope
    without a department reaches only one's own)."""
    scope = permissions.scope_of(member, "task", "read")
    return scope == Scope.ALL or (scope in (Scope.DEPARTMENT, Scope.DEPARTMENT_TREE)
                                  and bool(getattr(member, "department_id", None)))


def _tabs_for(member) -> list[tuple[str, object, dict]]:
    return [tab for tab in TABS if tab[0] != "all" or _sees_others(member)]


def _rows(member, queryset: QuerySet) -> QuerySet:
    return reads.with_progress(queryset).select_related("owner__user")


def _decorate(member, tasks: list[Task]) -> list[Task]:
    """Overdue flag, progress and whether the member may change each task: one query for the page."""
    now = timezone.now()
    editable = set(selectors.records(member, "task", action="edit").filter(pk__in=[task.pk for task in tasks])
                   .values_list("pk", flat=True)) if tasks else set()
    for task in tasks:
        task.is_overdue = bool(task.deadline and task.status in OPEN_STATUSES and task.deadline < now)
        task.progress = reads.progress_of(task)
        task.can_edit = task.pk in editable
    return tasks


@login_required
@require_GET
def task_list(request: HttpRequest) -> HttpResponse:
    member = _member_of(request)
    tabs = _tabs_for(member)
    keys = [key for key, _label, _tree in tabs]
    tab = request.GET.get("tab") if request.GET.get("tab") in keys else "mine"
    state = request.GET.get("state") if request.GET.get("state") in dict(STATES) else "open"
    query = request.GET.get("q", "").strip()[:200]
    tree = dict((key, tree) for key, _label, tree in tabs)[tab]
    tasks = selectors.records(member, "task").filter(compile_filter("task", tree, actor=member))
    if tab != "overdue":
        if state == "open":
            tasks = tasks.filter(status__in=OPEN_STATUSES)
        elif state == "done":
            tasks = tasks.filter(status__in=FINISHED)
    if query:
        tasks = search.search_records(tasks, query)
    else:
        ordering = ["-completed_at"] if state == "done" and tab != "overdue" else ["deadline"]
        tasks = tasks.order_by(*compile_ordering("task", ordering))
    page = Paginator(_rows(member, tasks), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = _decorate(member, list(page.object_list))
    return render(request, "tasks/task_list.html", {
        "tabs": [(key, label) for key, label, _tree in tabs], "tab": tab, "states": STATES, "state": state,
        "query": query, "page": page, "tasks": rows, "statuses": TaskStatus.choices,
        "can_create": permissions.can(member, "task", "create", creating=True),
    })


def _one_row(member, pk: int) -> Task:
    task = _rows(member, selectors.records(member, "task").filter(pk=pk)).get()
    return _decorate(member, [task])[0]


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return "/crm/tasks/"


@login_required
@require_POST
def quick_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a task's status from the list (htmx swaps the row; without JavaScript, back to the list)."""
    member = _member_of(request)
    task = selectors.record_for(member, "task", pk)  # 404 when the task cannot be read
    status = request.POST.get("status", "")
    error = None
    if status not in TaskStatus.values:
        error = _("Choose one of the statuses.")
    else:
        try:
            update_record(actor=member, record=task, values={"status": status})
        except ValidationError as refused:
            errors = refused.message_dict if hasattr(refused, "error_dict") else {"status": refused.messages}
            error = " ".join(errors.get("status") or [message for values in errors.values() for message in values])
        except permissions.NotPermitted as refused:
            error = str(refused)
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, _("“%(task)s” is now %(status)s.")
                             % {"task": task.title, "status": TaskStatus(status).label})
        return redirect(_back(request))
    return render(request, "tasks/_task_row.html", {"task": _one_row(member, task.pk), "statuses": TaskStatus.choices,
                                                    "error": error, "next": _back(request)})


# --- Calendar ------------------------------------------------------------------------------------------

@dataclass
class CalendarItem:
    kind: str  # "task", "call" or "meeting"
    at: datetime.datetime
    title: str
    url: str
    is_overdue: bool = False
    is_done: bool = False
    record_title: str = ""
    record_url: str = ""


@dataclass
class CalendarDay:
    date: datetime.date
    in_range: bool
    is_today: bool
    items: list[CalendarItem] = field(default_factory=list)

    @property
    def overflow(self) -> int:
        """Items a month cell has no room for (shown in full in the week view and on phones)."""
        return max(0, len(self.items) - MONTH_CELL_ITEMS)


def _month_bounds(day: datetime.date) -> tuple[datetime.date, datetime.date]:
    first = day.replace(day=1)
    last = first.replace(day=calendar_module.monthrange(first.year, first.month)[1])
    return first, last


def _shift_month(day: datetime.date, months: int) -> datetime.date:
    month_index = day.year * 12 + day.month - 1 + months
    return datetime.date(month_index // 12, month_index % 12 + 1, 1)


def _calendar_items(member, start: datetime.datetime, end: datetime.datetime) -> list[CalendarItem]:
    """Tasks the member is responsible for or takes part in, by deadline; their own calls and meetings."""
    now = timezone.now()
    mine = {"or": [{"field": "owner", "op": "eq", "value": ME}, {"field": "participants", "op": "has", "value": ME}]}
    tasks = (selectors.records(member, "task").filter(compile_filter("task", mine, actor=member))
             .filter(deadline__gte=start, deadline__lt=end).order_by(F("deadline").asc(), "id"))
    items = [CalendarItem("task", task.deadline, task.title, f"/crm/tasks/{task.pk}/",
                          is_overdue=task.status in OPEN_STATUSES and task.deadline < now,
                          is_done=task.status in FINISHED) for task in tasks]
    for entry in reads.agenda(member, start, end):
        activity, record = entry.activity, entry.record
        items.append(CalendarItem(
            activity.kind, activity.starts_at, activity.subject or str(activity.get_kind_display()).capitalize(),
            record.url if record else "", is_done=activity.is_done,
            record_title=record.title if record else "", record_url=record.url if record else ""))
    return sorted(items, key=lambda item: item.at)


@login_required
@require_GET
def task_calendar(request: HttpRequest) -> HttpResponse:
    member = _member_of(request)
    view = request.GET.get("view") if request.GET.get("view") in ("month", "week") else "month"
    today = timezone.localdate()
    try:
        day = parse_date(request.GET.get("date") or "") or today
    except ValueError:
        day = today
    if view == "month":
        first, last = _month_bounds(day)
        start_day = first - datetime.timedelta(days=first.weekday())
        end_day = last + datetime.timedelta(days=6 - last.weekday())
        previous, following = _shift_month(first, -1), _shift_month(first, 1)
    else:
        first = start_day = day - datetime.timedelta(days=day.weekday())
        last = end_day = start_day + datetime.timedelta(days=6)
        previous, following = start_day - datetime.timedelta(days=7), start_day + datetime.timedelta(days=7)
    start, _unused = reads.local_day_bounds(start_day)
    _unused, end = reads.local_day_bounds(end_day)
    days = {}
    current = start_day
    while current <= end_day:
        days[current] = CalendarDay(current, first <= current <= last, current == today)
        current += datetime.timedelta(days=1)
    for item in _calendar_items(member, start, end):
        local = timezone.localdate(item.at)
        if local in days:
            days[local].items.append(item)
    ordered = list(days.values())
    weeks = [ordered[index:index + 7] for index in range(0, len(ordered), 7)]
    return render(request, "tasks/calendar.html", {
        "view": view, "day": day, "first": first, "last": last, "weeks": weeks, "today": today,
        "weekdays": [day.date for day in ordered[:7]], "previous": previous, "following": following,
        "has_items": any(day.items for day in ordered if day.in_range), "cell_limit": MONTH_CELL_ITEMS,
        "can_create": permissions.can(member, "task", "create", creating=True),
    })
