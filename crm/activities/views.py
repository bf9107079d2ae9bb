"""A record's timeline on its page: the entries (activities, linked tasks, history changes saved
together shown as one entry) and the quick add of a note, call, meeting or task."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy

from crm.activities.models import ActivityKind, Direction
from crm.activities.selectors import timeline
from crm.activities.services import add_activity
from crm.core import services
from crm.core.forms import add_service_errors, record_form_class, values_from_form
from crm.core.history import field_label_of
from crm.core.record_views import _load, actor_name, record_path, record_view, render_record, shown_value
from crm.core.registry import RecordType
from crm.tasks.services import is_overdue, link_task
from identity.members import permissions
from tenants import modules

DATETIME_WIDGET = {"attrs": {"type": "datetime-local"}, "format": "%Y-%m-%dT%H:%M"}


def _when(**kwargs) -> forms.DateTimeField:
    return forms.DateTimeField(required=False, widget=forms.DateTimeInput(**DATETIME_WIDGET), **kwargs)


class NoteForm(forms.Form):
    body = forms.CharField(label=gettext_lazy("Note"), required=False, widget=forms.Textarea(
        attrs={"rows": 3, "placeholder": gettext_lazy("What happened, what was agreed, what comes next…")}))


class CallForm(forms.Form):
    direction = forms.ChoiceField(label=gettext_lazy("Direction"), choices=Direction.choices,
                                  initial=Direction.OUTBOUND)
    starts_at = _when(label=gettext_lazy("When"))
    subject = forms.CharField(label=gettext_lazy("Subject"), required=False)
    body = forms.CharField(label=gettext_lazy("Summary"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    outcome = forms.CharField(label=gettext_lazy("Outcome"), required=False)


class MeetingForm(forms.Form):
    subject = forms.CharField(label=gettext_lazy("Subject"), required=False)
    starts_at = _when(label=gettext_lazy("Start"))
    ends_at = _when(label=gettext_lazy("End"))
    location = forms.CharField(label=gettext_lazy("Place"), required=False)
    body = forms.CharField(label=gettext_lazy("Agenda or notes"), required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))


KINDS = {
    "note": gettext_lazy("Note"),
    "call": gettext_lazy("Call"),
    "meeting": gettext_lazy("Meeting"),
    "task": gettext_lazy("Task"),
}
TASK_FIELDS = ["title", "deadline", "priority", "owner"]


def _form(request: HttpRequest, kind: str, data=None) -> forms.Form:
    auto_id = f"quick-{kind}-%s"
    if kind == "task":
        form_class = record_form_class("task", only=TASK_FIELDS, with_custom=False)
        return form_class(data, auto_id=auto_id, initial={"owner": request.member.pk, "priority": "normal"})
    form_class = {"note": NoteForm, "call": CallForm, "meeting": MeetingForm}[kind]
    now = timezone.localtime().replace(second=0, microsecond=0)
    return form_class(data, auto_id=auto_id, initial={"starts_at": now})


def _kinds_for(member, rt: RecordType) -> list[str]:
    """A task's own page plans work through subtasks, not tasks linked to it. Calls and meetings
    are left out while the portal has their module switched off."""
    kinds = [kind for kind in KINDS if kind not in modules.ACTIVITY_KINDS or modules.is_enabled("activities")]
    return [kind for kind in kinds if kind != "task" or (
        rt.code != "task" and permissions.can(member, "task", "create", creating=True))]


def _action(rt: RecordType, record, kind: str) -> str:
    return reverse("crm-quick-add", kwargs={"slug": rt.url_slug, "pk": record.pk, "kind": kind})


def quick_add_context(request: HttpRequest, rt: RecordType, record, kind: str, form=None) -> dict:
    kinds = _kinds_for(request.member, rt)
    kind = kind if kind in kinds else "note"
    return {"kind": kind, "form": form or _form(request, kind), "action": _action(rt, record, kind),
            "kinds": [{"key": key, "label": KINDS[key], "url": _action(rt, record, key)} for key in kinds]}


# --- Timeline entries --------------------------------------------------------------------------

@dataclass
class Change:
    label: str
    old: str
    new: str


@dataclass
class Entry:
    kind: str  # "activity", "task" or "change"
    at: datetime.datetime
    item: object = None
    who: str = ""
    event: str = ""  # "created", "updated", "deleted", … for history entries
    event_label: str = ""
    note: str = ""
    changes: list[Change] = field(default_factory=list)
    batch: object = None
    overdue: bool = False


def _entry(item) -> Entry:
    if item.kind == "activity":
        activity = item.item
        return Entry("activity", item.at, activity, who=str(activity.author) if activity.author_id else "")
    if item.kind == "task":
        task = item.item
        return Entry("task", item.at, task, who=str(task.owner) if task.owner_id else "", overdue=is_overdue(task))
    change = item.item
    entry = Entry("change", item.at, change, who=actor_name(change), event=change.kind,
                  event_label=change.get_kind_display(), batch=change.batch)
    if change.field:
        entry.changes.append(Change(field_label_of(change), shown_value(change.old_value),
                                    shown_value(change.new_value)))
    else:
        entry.note = change.new_value
    return entry


def timeline_entries(principal, entity: str, record_id, *, limit: int = 100) -> list[Entry]:
    """Newest first; the lines of one save (same batch) read as one entry listing its fields."""
    entries: list[Entry] = []
    for item in timeline(principal, entity, record_id, limit=limit):
        entry = _entry(item)
        last = entries[-1] if entries else None
        if (entry.kind == "change" and last is not None and last.kind == "change" and entry.batch
                and entry.batch == last.batch):
            last.changes.extend(entry.changes)
            continue
        entries.append(entry)
    return entries


# --- Quick add ---------------------------------------------------------------------------------

def _save(request: HttpRequest, rt: RecordType, record, kind: str, form: forms.Form) -> Entry:
    member = request.member
    if kind == "task":
        values = {name: value for name, value in values_from_form(form).items() if value not in (None, "")}
        with transaction.atomic():
            task = services.create_record(actor=member, code="task", values=values)
            link_task(actor=member, task=task, entity=rt.code, record_id=record.pk)
        task = type(task).objects.select_related("owner__user").get(pk=task.pk)
        return Entry("task", task.created_at, task, who=str(task.owner) if task.owner_id else "",
                     overdue=is_overdue(task))
    values = dict(form.cleaned_data)
    activity = add_activity(actor=member, entity=rt.code, record_id=record.pk,
                            kind=ActivityKind(kind).value, **values)
    return Entry("activity", activity.starts_at or activity.created_at, activity, who=str(member))


@record_view
def quick_add(request: HttpRequest, slug: str, pk: int, kind: str) -> HttpResponse:
    rt, record = _load(request, slug, pk, include_deleted=False)
    if kind not in KINDS or (kind == "task" and rt.code == "task"):
        raise Http404
    if kind == "task":
        permissions.require(request.member, "task", "create", creating=True)
    if request.method != "POST":
        if request.htmx:
            return render(request, "activities/_quick_add.html",
                          {"quick": quick_add_context(request, rt, record, kind), "record": record})
        return redirect(f"{record_path(rt.code, record.pk)}?add={kind}#quick-add")
    form = _form(request, kind, request.POST)
    if form.is_valid():
        try:
            entry = _save(request, rt, record, kind, form)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if request.htmx:
                return render(request, "activities/_added.html", {
                    "entry": entry, "record": record, "quick": quick_add_context(request, rt, record, kind)})
            return redirect(record_path(rt.code, record.pk))
    if request.htmx:
        response = render(request, "activities/_quick_add.html",
                          {"quick": quick_add_context(request, rt, record, kind, form), "record": record})
        response["HX-Retarget"], response["HX-Reswap"] = "#quick-add", "outerHTML"
        return response
    return render_record(request, rt, record, quick_kind=kind, quick_form=form)

