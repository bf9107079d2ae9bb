"""Record pages: ``/crm/<type>/new/``, ``/crm/<type>/<id>/`` with its fields edited in place, the
timeline and history, related records; moving a deal through its stages; the recycle bin.

Views stay thin: reads through crm.core.selectors (which apply permissions), writes through the
services; forms come from crm.core.forms so every page edits the same fields the same way.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass, field

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from crm.core import selectors, services
from crm.core.custom_fields import definitions
from crm.core.forms import (
    CUSTOM_PREFIX,
    LIST_FIELDS,
    LookupWidget,
    add_service_errors,
    editable_names,
    initial_for,
    record_form_class,
    values_from_form,
)
from crm.core.models import CustomField, FieldType
from crm.core.registry import RecordType, record_type, record_type_for_slug, record_types
from crm.core.templatetags.crm_record import money_text, phone_text
from crm.dictionaries.models import Choice
from identity.members import permissions
from identity.members.models import Membership

# --- What a record page shows ------------------------------------------------------------------

@dataclass(frozen=True)
class Section:
    key: str
    label: object
    fields: tuple[str, ...]


ADDRESS = ("street", "postal_code", "city", "region", "country")
SECTIONS: dict[str, tuple[Section, ...]] = {
    "contact": (
        Section("main", gettext_lazy("Contact details"),
                ("first_name", "last_name", "position", "company", "phones", "emails", "birthday")),
        Section("address", gettext_lazy("Address"), ADDRESS),
        Section("more", gettext_lazy("More"), ("contact_type", "source", "owner", "description")),
    ),
    "company": (
        Section("main", gettext_lazy("Company"),
                ("name", "company_type", "industry", "nip", "regon", "vat_id", "employees", "website")),
        Section("reach", gettext_lazy("Phones and e-mail"), ("phones", "emails")),
        Section("address", gettext_lazy("Address"), ADDRESS),
        Section("more", gettext_lazy("More"), ("source", "owner", "description")),
    ),
    "lead": (
        Section("main", gettext_lazy("Lead"),
                ("title", "status", "junk_reason", "value", "currency", "source", "owner")),
        Section("person", gettext_lazy("Who is asking"),
                ("first_name", "last_name", "position", "company_name", "phones", "emails")),
        Section("links", gettext_lazy("Known customer"), ("contact", "company")),
        Section("more", gettext_lazy("More"), ("description",)),
    ),
    "deal": (
        Section("main", gettext_lazy("Deal"),
                ("title", "value", "currency", "expected_close_date", "probability", "owner")),
        Section("client", gettext_lazy("Client"), ("company", "source")),
        Section("more", gettext_lazy("More"), ("lost_reason", "description")),
    ),
    "task": (
        Section("main", gettext_lazy("Task"), ("title", "status", "priority", "deadline", "owner")),
        Section("more", gettext_lazy("Description"), ("description",)),
    ),
}
CUSTOM_SECTION = "custom"
# Fields that never appear as an editable field of a page (set by workflows, shown elsewhere).
SHOWN_ELSEWHERE = {"tags", "custom", "pipeline", "stage", "contacts", "participants", "observers", "depends_on",
                   "parent", "lead"}
RELATED_LIMIT = 20
NEW_HEADINGS = {"contact": gettext_lazy("New contact"), "company": gettext_lazy("New company"),
                "lead": gettext_lazy("New lead"), "deal": gettext_lazy("New deal"), "task": gettext_lazy("New task")}


def sections_of(rt: RecordType, custom_fields: list[CustomField]) -> list[Section]:
    """The type's sections; editable fields nobody placed land in "More", custom fields get their own."""
    found = list(SECTIONS.get(rt.code, (Section("main", rt.label, tuple(editable_names(rt))),)))
    placed = {name for section in found for name in section.fields}
    loose = tuple(name for name in editable_names(rt) if name not in placed and name not in SHOWN_ELSEWHERE)
    if loose:
        last = found[-1]
        found[-1] = Section(last.key, last.label, last.fields + loose)
    if custom_fields:
        found.append(Section(CUSTOM_SECTION, gettext_lazy("Additional fields"),
                             tuple(f"custom.{item.code}" for item in custom_fields)))
    return found


def editable_in(rt: RecordType, section: Section) -> list[str]:
    writable = set(editable_names(rt)) | ({"status"} if rt.code in ("lead", "task") else set())
    return [name for name in section.fields if name.startswith("custom.") or name in writable]


@dataclass
class FieldView:
    name: str
    label: object
    value: str = ""
    empty: bool = True


@dataclass
class RelatedGroup:
    key: str
    label: object
    items: list = field(default_factory=list)  # RelatedItem
    more: bool = False
    add_url: str = ""
    # A search box that attaches another record (a deal's contacts), with a remove button per item.
    attach_url: str = ""
    attach_box: str = ""


@dataclass
class RelatedItem:
    title: str
    url: str = ""
    detail: str = ""
    badge: str = ""
    badge_class: str = ""
    pk: int | None = None


def record_path(code: str, pk) -> str:
    return reverse("crm-record", kwargs={"slug": record_type(code).url_slug, "pk": pk})


def _record_link(related: models.Model | None) -> SafeString | str:
    if related is None:
        return ""
    for rt in record_types():
        if isinstance(related, rt.model):
            return format_html('<a href="{}">{}</a>', record_path(rt.code, related.pk), rt.title(related))
    return str(related)


def _date_text(value) -> str:
    if isinstance(value, datetime.datetime):
        return date_format(timezone.localtime(value), "DATETIME_FORMAT")
    return date_format(value, "DATE_FORMAT")


BR = SafeString("<br>")


def _lines(text: str) -> SafeString:
    return format_html_join(BR, "{}", ((line,) for line in text.splitlines()))


def _list_values(items) -> list[str]:
    return [item.get("value", "") if isinstance(item, dict) else str(item) for item in (items or [])]


def _model_value(record: models.Model, name: str) -> SafeString | str:
    model_field = record._meta.get_field(name)
    if model_field.is_relation:
        if getattr(record, model_field.attname) is None:
            return ""
        related = getattr(record, name)
        return _record_link(related) if not isinstance(related, Membership | Choice) else str(related)
    value = getattr(record, name)
    if value in (None, "", []):
        return ""
    if model_field.choices:
        return str(getattr(record, f"get_{name}_display")())
    if name == "emails":
        return format_html_join(BR, '<a href="mailto:{}">{}</a>',
                                ((email, email) for email in _list_values(value)))
    if name == "phones":
        return format_html_join(BR, '<a href="tel:{}">{}</a>',
                                ((phone, phone_text(phone)) for phone in _list_values(value)))
    if name == "value":
        return money_text(value, getattr(record, "currency", None))
    if isinstance(model_field, models.DateField):
        return _date_text(value)
    if isinstance(model_field, models.URLField):
        return format_html('<a href="{}" rel="noopener" target="_blank">{}</a>', value, value)
    if isinstance(model_field, models.BooleanField):
        return _("yes") if value else _("no")
    if isinstance(model_field, models.TextField):
        return _lines(value)
    if name in ("probability",):
        return f"{value}%"
    return str(value)


def _custom_value(definition: CustomField, value, people: dict[int, str]) -> SafeString | str:
    if value in (None, "", []):
        return ""
    kind = definition.field_type
    if kind == FieldType.MONEY:
        return money_text(value)
    if kind == FieldType.DATE:
        parsed = parse_date(str(value))
        return _date_text(parsed) if parsed else str(value)
    if kind == FieldType.DATETIME:
        parsed = parse_datetime(str(value))
        return _date_text(parsed) if parsed else str(value)
    if kind == FieldType.BOOLEAN:
        return _("yes") if value else _("no")
    if kind == FieldType.MULTISELECT:
        return ", ".join(str(item) for item in value)
    if kind == FieldType.USER:
        return people.get(int(value), "") if str(value).isdigit() else str(value)
    if kind == FieldType.URL:
        return format_html('<a href="{}" rel="noopener" target="_blank">{}</a>', value, value)
    if kind == FieldType.EMAIL:
        return format_html('<a href="mailto:{}">{}</a>', value, value)
    if kind == FieldType.PHONE:
        return format_html('<a href="tel:{}">{}</a>', value, phone_text(value))
    if kind == FieldType.LONG_TEXT:
        return _lines(str(value))
    return str(value)


def _people_named_in(record: models.Model, custom_fields: list[CustomField]) -> dict[int, str]:
    ids = [int(value) for item in custom_fields if item.field_type == FieldType.USER
           for value in [(record.custom or {}).get(item.code)] if str(value).isdigit()]
    if not ids:
        return {}
    return {member.pk: str(member) for member in Membership.objects.filter(pk__in=ids).select_related("user")}


def field_views(record: models.Model, section: Section, custom_fields: list[CustomField],
                people: dict[int, str]) -> list[FieldView]:
    by_code = {item.code: item for item in custom_fields}
    views = []
    for name in section.fields:
        if name.startswith("custom."):
            definition = by_code.get(name.removeprefix("custom."))
            if definition is None:
                continue
            value = _custom_value(definition, (record.custom or {}).get(definition.code), people)
            views.append(FieldView(name, definition.label, value, value == ""))
        else:
            value = _model_value(record, name)
            views.append(FieldView(name, record._meta.get_field(name).verbose_name, value, value == ""))
    return views


# --- Related records ---------------------------------------------------------------------------

def _items(code: str, queryset, detail=None, badge=None) -> tuple[list[RelatedItem], bool]:
    rt = record_type(code)
    rows = list(queryset[:RELATED_LIMIT + 1])
    items = []
    for row in rows[:RELATED_LIMIT]:
        text, css = badge(row) if badge else ("", "")
        items.append(RelatedItem(rt.title(row), record_path(code, row.pk), detail(row) if detail else rt.subtitle(row),
                                 text, css, row.pk))
    return items, len(rows) > RELATED_LIMIT


def _readable(member, code: str) -> bool:
    return permissions.can(member, code, "read", creating=True)


def _group(member, key: str, label, code: str, queryset, *, add_url: str = "", **kwargs) -> RelatedGroup | None:
    if not _readable(member, code):
        return None
    items, more = _items(code, queryset, **kwargs)
    if add_url and not permissions.can(member, code, "create", creating=True):
        add_url = ""
    return RelatedGroup(key, label, items, more, add_url)


def _one(member, code: str, related: models.Model | None, label) -> RelatedGroup | None:
    if related is None:
        return None
    rt = record_type(code)
    item = RelatedItem(rt.title(related), record_path(code, related.pk), rt.subtitle(related), pk=related.pk)
    return RelatedGroup(code, label, [item])


def _deal_detail(deal) -> str:
    return money_text(deal.value, deal.currency)


def _deal_badge(deal) -> tuple[str, str]:
    kind = {"won": "ok", "lost": "danger"}.get(deal.stage.kind, "info")
    return deal.stage.name, kind


def _lead_badge(lead) -> tuple[str, str]:
    return lead.get_status_display(), {"converted": "ok", "junk": "danger"}.get(lead.status, "")


def _task_badge(task) -> tuple[str, str]:
    from crm.tasks.services import is_overdue

    if is_overdue(task):
        return _("overdue"), "danger"
    return task.get_status_display(), {"completed": "ok", "rejected": ""}.get(task.status, "info")


def related_groups(member, rt: RecordType, record: models.Model) -> list[RelatedGroup]:
    """What a salesperson looks for next to the record: its people, deals, leads. A record's own company
    or contact is a linked field of its sections and a fact of its head, so it is not repeated here."""
    groups: list[RelatedGroup | None] = []
    records = functools.partial(selectors.records, member)
    if rt.code == "company":
        groups = [
            _group(member, "contacts", _("Contacts"), "contact", records("contact").filter(company=record)
                   .order_by("last_name", "first_name", "id"), add_url=f"/crm/contacts/new/?company={record.pk}"),
            _group(member, "deals", _("Deals"), "deal", records("deal").filter(company=record).order_by("-created_at"),
                   detail=_deal_detail, badge=_deal_badge, add_url=f"/crm/deals/new/?company={record.pk}"),
            _group(member, "leads", _("Leads"), "lead", records("lead").filter(company=record).order_by("-created_at"),
                   badge=_lead_badge),
        ]
    elif rt.code == "contact":
        groups = [
            _group(member, "deals", _("Deals"), "deal", records("deal").filter(contacts=record).order_by("-created_at"),
                   detail=_deal_detail, badge=_deal_badge),
            _group(member, "leads", _("Leads"), "lead", records("lead").filter(contact=record).order_by("-created_at"),
                   badge=_lead_badge),
        ]
    elif rt.code == "deal":
        contacts = _group(member, "contacts", _("Contacts"), "contact", records("contact").filter(deals=record)
                          .order_by("last_name", "first_name", "id"))
        if contacts and not record.is_deleted and permissions.can(member, "deal", "edit", owner=record.owner):
            contacts.attach_url = reverse("crm-deal-contacts", kwargs={"pk": record.pk})
            contacts.attach_box = LookupWidget("contacts").render("contact", None,
                                                                  {"id": f"attach-contact-{record.pk}"})
        groups = [
            contacts,
            _one(member, "lead", records("lead").filter(pk=record.lead_id).first() if record.lead_id else None,
                 _("Lead")),
        ]
    elif rt.code == "lead":
        groups = [
            _group(member, "deals", _("Deals"), "deal", records("deal").filter(lead=record).order_by("-created_at"),
                   detail=_deal_detail, badge=_deal_badge),
        ]
    return [group for group in groups if group is not None]


@dataclass
class TaskFacts:
    progress: int | None
    parent: RelatedItem | None
    subtasks: list
    depends_on: list
    participants: list
    observers: list
    links: list


def task_facts(member, task) -> TaskFacts:
    from crm.tasks.models import TaskLink
    from crm.tasks.services import progress

    tasks = selectors.records(member, "task")
    subtasks, _more = _items("task", tasks.filter(parent=task).order_by("deadline", "id"),
                             detail=lambda row: _date_text(row.deadline) if row.deadline else "", badge=_task_badge)
    depends_on, _more = _items("task", tasks.filter(blocks=task).order_by("deadline", "id"), badge=_task_badge)
    parent = tasks.filter(pk=task.parent_id).first() if task.parent_id else None
    people = Membership.objects.select_related("user").order_by("user__full_name")
    links = []
    by_entity: dict[str, list[int]] = {}
    for entity, record_id in TaskLink.objects.filter(task=task).values_list("entity", "record_id"):
        by_entity.setdefault(entity, []).append(record_id)
    for entity, ids in by_entity.items():
        rt = record_type(entity)
        for row in selectors.records(member, entity).filter(pk__in=ids)[:RELATED_LIMIT]:
            links.append(RelatedItem(rt.title(row), record_path(entity, row.pk), str(rt.label).capitalize()))
    return TaskFacts(
        progress=progress(task),
        parent=RelatedItem(parent.title, record_path("task", parent.pk)) if parent else None,
        subtasks=subtasks, depends_on=depends_on,
        participants=[str(person) for person in people.filter(pk__in=task.participants.values("pk"))],
        observers=[str(person) for person in people.filter(pk__in=task.observers.values("pk"))],
        links=links)


# --- Deals: the stage bar ----------------------------------------------------------------------

def deal_stages(deal) -> dict:
    stages = list(deal.pipeline.stages.order_by("position", "id"))
    open_stages = [stage for stage in stages if stage.kind == "open"]
    current_index = next((index for index, stage in enumerate(open_stages) if stage.pk == deal.stage_id), None)
    steps = [{"stage": stage, "current": stage.pk == deal.stage_id,
              "passed": current_index is not None and index < current_index} for index, stage in enumerate(open_stages)]
    return {"steps": steps, "won": next((s for s in stages if s.kind == "won"), None),
            "lost": next((s for s in stages if s.kind == "lost"), None), "closed": deal.stage.kind != "open"}


# --- Loading and refusing ----------------------------------------------------------------------

def _type_or_404(slug: str) -> RecordType:
    try:
        return record_type_for_slug(slug)
    except LookupError:
        raise Http404 from None


def forbidden(request: HttpRequest, error: permissions.NotPermitted | str) -> HttpResponse:
    """The 403 page with the permission layer's translated message (a dialog for htmx requests)."""
    message = str(error.args[0] if isinstance(error, permissions.NotPermitted) and error.args else error)
    if request.htmx:
        response = render(request, "crm/record_forbidden_dialog.html", {"message": message}, status=403)
        response["HX-Retarget"], response["HX-Reswap"] = "#dialog", "innerHTML"
        return response
    return render(request, "crm/record_forbidden.html", {"message": message}, status=403)


def record_view(view):
    """Signed-in members only; a right the member lacks becomes the 403 page."""
    @login_required
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except permissions.NotPermitted as error:
            return forbidden(request, error)
    return wrapped


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


# --- Building the page -------------------------------------------------------------------------

def _section_context(request, rt: RecordType, record, section: Section, custom_fields, people, can_edit) -> dict:
    fields = field_views(record, section, custom_fields, people)
    kwargs = {"slug": rt.url_slug, "pk": record.pk, "key": section.key}
    return {"section": section, "fields": fields, "empty_count": sum(item.empty for item in fields),
            "editable": can_edit and not record.is_deleted and bool(editable_in(rt, section)),
            "edit_url": reverse("crm-record-edit", kwargs=kwargs),
            "cancel_url": reverse("crm-record-section", kwargs=kwargs), "record_url": record_path(rt.code, record.pk)}


def head_context(member, rt: RecordType, record) -> dict:
    """What the page head shows; also sent alone after an inline edit changed the title or a key fact."""
    context = {"rt": rt, "record": record, "title": rt.title(record), **_rights(member, rt, record),
               "list_url": f"/crm/{rt.url_slug}/" if rt.code != "deal" else "/crm/deals/board/"}
    if rt.code == "task":
        from crm.tasks.services import is_overdue

        context["task_overdue"] = is_overdue(record)
    return context


def _rights(member, rt: RecordType, record) -> dict:
    return {"can_edit": permissions.can(member, rt.code, "edit", owner=record.owner),
            "can_delete": permissions.can(member, rt.code, "delete", owner=record.owner)}


def record_context(request: HttpRequest, rt: RecordType, record, *, tab: str = "timeline", editing: str = "",
                   edit_form=None, quick_kind: str = "note", quick_form=None) -> dict:
    from crm.activities.views import quick_add_context, timeline_entries

    member = request.member
    can_edit = permissions.can(member, rt.code, "edit", owner=record.owner)
    custom_fields = definitions(rt.code)
    people = _people_named_in(record, custom_fields)
    sections = []
    for section in sections_of(rt, custom_fields):
        context = _section_context(request, rt, record, section, custom_fields, people, can_edit)
        if editing == section.key and edit_form is not None:
            context["form"] = edit_form
        sections.append(context)
    context = {
        **head_context(member, rt, record), "sections": sections,
        "related": related_groups(member, rt, record), "tab": tab,
        "purge_on": _purge_on(record),
    }
    if rt.code == "deal":
        context["stages"] = deal_stages(record)
    if rt.code == "task":
        context["task"] = task_facts(member, record)
    if tab == "history":
        context["history"] = history_lines(member, rt.code, record.pk)
    else:
        context["timeline"] = timeline_entries(member, rt.code, record.pk)
        if not record.is_deleted:
            context["quick"] = quick_add_context(request, rt, record, quick_kind, quick_form)
    return context


def _purge_on(record) -> datetime.datetime | None:
    return record.deleted_at + datetime.timedelta(days=services.RECYCLE_BIN_DAYS) if record.deleted_at else None


def render_record(request: HttpRequest, rt: RecordType, record, *, status: int = 200, **kwargs) -> HttpResponse:
    return render(request, "crm/record.html", record_context(request, rt, record, **kwargs), status=status)


@dataclass
class HistoryLine:
    at: datetime.datetime
    who: str
    kind: str
    kind_label: str
    label: str
    old: str
    new: str


def actor_name(entry) -> str:
    if entry.actor_id and entry.actor is not None:
        return str(entry.actor)
    return entry.actor_label.split(" <")[0] if entry.actor_label else _("the system")


def shown_value(text: str) -> str:
    return {"true": _("yes"), "false": _("no")}.get(text, text)


def history_lines(member, code: str, pk, limit: int = 300) -> list[HistoryLine]:
    from crm.core.history import field_label_of

    return [HistoryLine(entry.at, actor_name(entry), entry.kind, entry.get_kind_display(), field_label_of(entry),
                        shown_value(entry.old_value), shown_value(entry.new_value))
            for entry in selectors.history_of(member, code, pk)[:limit]]


def _load(request: HttpRequest, slug: str, pk, *, action: str = "read", include_deleted: bool = True):
    rt = _type_or_404(slug)
    record = selectors.record_for(request.member, rt.code, pk, action=action, include_deleted=include_deleted)
    return rt, record


# --- Pages -------------------------------------------------------------------------------------

@record_view
def detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    rt, record = _load(request, slug, pk)
    tab = "history" if request.GET.get("tab") == "history" else "timeline"
    quick_kind = request.GET.get("add", "note")
    return render_record(request, rt, record, tab=tab, quick_kind=quick_kind)


def _initial_from_query(request: HttpRequest, form_class) -> dict:
    return {name: request.GET[name] for name in form_class.base_fields if request.GET.get(name)}


def _drop_unchanged_lists(values: dict, record) -> dict:
    """E-mails and phones come back as plain text; unchanged ones keep their stored kinds (work, mobile)."""
    for name in LIST_FIELDS & set(values):
        if record is not None and [str(v) for v in values[name] or []] == _list_values(getattr(record, name)):
            values.pop(name)
    return values


@record_view
def create(request: HttpRequest, slug: str) -> HttpResponse:
    from crm.duplicates.selectors import PossibleDuplicates

    rt = _type_or_404(slug)
    member = request.member
    permissions.require(member, rt.code, "create", creating=True)
    form_class = record_form_class(rt.code, actor=member)
    offer_force = False
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            # Empty fields are left to the record's defaults (owner: whoever creates it).
            values = {name: value for name, value in values_from_form(form).items() if value not in (None, "", [])}
            try:
                record = services.create_record(actor=member, code=rt.code, values=values,
                                                check_duplicates=request.POST.get("force") != "1")
            except PossibleDuplicates as duplicates:
                add_service_errors(form, duplicates)
                offer_force = True
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                messages.success(request, _("Saved."))
                return redirect(record_path(rt.code, record.pk))
    else:
        form = form_class(initial={"owner": member.pk, **_initial_from_query(request, form_class)})
    custom_fields = definitions(rt.code)
    groups = []
    for section in sections_of(rt, custom_fields):
        names = [f"{CUSTOM_PREFIX}{name.removeprefix('custom.')}" if name.startswith("custom.") else name
                 for name in editable_in(rt, section) if name != "status"]
        bound = [form[name] for name in names if name in form.fields]
        if bound:
            groups.append((section, bound))
    return render(request, "crm/record_new.html", {"rt": rt, "form": form, "groups": groups, "offer_force": offer_force,
                                                   "heading": NEW_HEADINGS.get(rt.code, rt.label),
                                                   "list_url": f"/crm/{rt.url_slug}/"})


def _section_or_404(rt: RecordType, key: str) -> Section:
    section = next((item for item in sections_of(rt, definitions(rt.code)) if item.key == key), None)
    if section is None or not editable_in(rt, section):
        raise Http404
    return section


def _section_response(request, rt: RecordType, record, section: Section) -> HttpResponse:
    """The section back in reading mode, with the head and the timeline refreshed alongside."""
    from crm.activities.views import timeline_entries

    custom_fields = definitions(rt.code)
    people = _people_named_in(record, custom_fields)
    context = {**head_context(request.member, rt, record),
               "s": _section_context(request, rt, record, section, custom_fields, people, True),
               "timeline": timeline_entries(request.member, rt.code, record.pk)}
    return render(request, "crm/record_section_saved.html", context)


@record_view
def section(request: HttpRequest, slug: str, pk: int, key: str) -> HttpResponse:
    """A section in reading mode (Cancel of the inline form)."""
    rt, record = _load(request, slug, pk)
    chosen = _section_or_404(rt, key)
    if not request.htmx:
        return redirect(record_path(rt.code, record.pk))
    custom_fields = definitions(rt.code)
    context = _section_context(request, rt, record, chosen, custom_fields, _people_named_in(record, custom_fields),
                               permissions.can(request.member, rt.code, "edit", owner=record.owner))
    return render(request, "crm/record_section.html", {"s": context})


@record_view
def edit_section(request: HttpRequest, slug: str, pk: int, key: str) -> HttpResponse:
    rt, record = _load(request, slug, pk, action="edit", include_deleted=False)
    chosen = _section_or_404(rt, key)
    form_class = record_form_class(rt.code, only=editable_in(rt, chosen))
    prefix_id = f"edit-{key}-%s"
    if request.method == "POST":
        form = form_class(request.POST, auto_id=prefix_id)
        if form.is_valid():
            values = _drop_unchanged_lists(values_from_form(form), record)
            try:
                services.update_record(actor=request.member, record=record, values=values)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                record = selectors.record_for(request.member, rt.code, record.pk)
                if request.htmx:
                    return _section_response(request, rt, record, chosen)
                messages.success(request, _("Saved."))
                return redirect(record_path(rt.code, record.pk))
    else:
        form = form_class(initial=initial_for(record, form_class), auto_id=prefix_id)
    if request.htmx:
        custom_fields = definitions(rt.code)
        context = _section_context(request, rt, record, chosen, custom_fields, {}, True) | {"form": form}
        return render(request, "crm/record_section_form.html", {"s": context})
    return render_record(request, rt, record, editing=key, edit_form=form)


@record_view
def delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    rt, record = _load(request, slug, pk, action="delete", include_deleted=False)
    if request.method == "POST":
        services.delete_record(actor=request.member, record=record)
        messages.success(request, _("Moved to the recycle bin. You can restore it for %(days)d days.")
                        % {"days": services.RECYCLE_BIN_DAYS})
        return redirect(record_path(rt.code, record.pk))
    return _confirm(request, {
        "heading": _("Move “%(title)s” to the recycle bin?") % {"title": rt.title(record)},
        "text": _("You can restore it from the recycle bin for %(days)d days; after that it is deleted for good.")
        % {"days": services.RECYCLE_BIN_DAYS},
        "action": request.path, "button": _("Move to the recycle bin"), "danger": True,
        "back": record_path(rt.code, record.pk)})


def _confirm(request: HttpRequest, context: dict) -> HttpResponse:
    template = "crm/record_confirm_dialog.html" if request.htmx else "crm/record_confirm.html"
    return render(request, template, context)


@require_POST
@record_view
def restore(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    rt, record = _load(request, slug, pk, action="delete")
    services.restore_record(actor=request.member, record=record)
    messages.success(request, _("Restored: %(title)s.") % {"title": rt.title(record)})
    return redirect(_safe_next(request, record_path(rt.code, record.pk)))


@record_view
def purge(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    rt, record = _load(request, slug, pk, action="delete")
    if not record.is_deleted:
        raise Http404
    if request.method == "POST":
        title = rt.title(record)
        services.purge_record(actor=request.member, record=record)
        messages.success(request, _("Deleted permanently: %(title)s.") % {"title": title})
        return redirect(_safe_next(request, reverse("crm-recycle-bin")))
    return _confirm(request, {
        "heading": _("Delete “%(title)s” permanently?") % {"title": rt.title(record)},
        "text": _("The record, its history, notes and task links are removed for good. This cannot be undone."),
        "action": request.path, "button": _("Delete permanently"), "danger": True,
        "next": _safe_next(request, reverse("crm-recycle-bin")), "back": reverse("crm-recycle-bin")})


# --- Deals: moving between stages --------------------------------------------------------------

def _stage_form(deal, stage, missing: list[tuple[str, str]], data=None):
    names = [name for name, _label in missing]
    if stage.kind == "lost" and "lost_reason" not in names:
        names.append("lost_reason")
    form_class = record_form_class("deal", only=names)
    form = form_class(data, initial=initial_for(deal, form_class), auto_id="stage-%s")
    return form


def _stage_values(form) -> dict:
    values = values_from_form(form)
    if "contacts" in values:
        values["contacts"] = [values["contacts"]] if values["contacts"] else []
    return values


@record_view
def move(request: HttpRequest, pk: int, stage_id: int) -> HttpResponse:
    from crm.deals.models import Stage
    from crm.deals.services import StageRequirementsError, missing_for_stage, move_deal, pipelines_for

    deal = selectors.record_for(request.member, "deal", pk, action="edit")
    stage = (Stage.objects.select_related("pipeline")
             .filter(pk=stage_id, pipeline__in=pipelines_for(request.member)).first())
    if stage is None:
        raise Http404
    missing = missing_for_stage(deal, stage) if stage.pk != deal.stage_id else []
    needs_answers = bool(missing) or stage.kind == "lost"
    if request.method == "POST" and (request.POST.get("asked") == "1" or not needs_answers):
        form = _stage_form(deal, stage, missing, request.POST)
        if form.is_valid():
            try:
                move_deal(actor=request.member, deal=deal, stage=stage, values=_stage_values(form))
            except StageRequirementsError as error:
                form = _stage_form(deal, stage, error.missing, request.POST)
                form.is_valid()
                add_service_errors(form, error)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                if request.htmx:
                    response = HttpResponse(status=204)
                    response["HX-Refresh"] = "true"
                    return response
                messages.success(request, _("The deal is now in “%(stage)s”.") % {"stage": stage.name})
                return redirect(record_path("deal", deal.pk))
    else:
        form = _stage_form(deal, stage, missing)
    context = {"deal": deal, "stage": stage, "form": form, "action": request.path,
               "back": record_path("deal", deal.pk)}
    if request.htmx:
        response = render(request, "crm/record_stage_dialog.html", context)
        response["HX-Retarget"], response["HX-Reswap"] = "#dialog", "innerHTML"
        return response
    return render(request, "crm/record_stage_page.html", context)


@require_POST
@record_view
def deal_contacts(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a person to a deal or take one off it; people the member cannot see stay on the deal."""
    deal = selectors.record_for(request.member, "deal", pk, action="edit")
    current = [int(value) for value in deal.contacts.values_list("pk", flat=True)]
    chosen = request.POST.get("contact", "")
    if not chosen.isdigit():
        messages.error(request, _("Choose a contact from the list."))
        return redirect(record_path("deal", deal.pk))
    chosen_id = int(selectors.record_for(request.member, "contact", chosen).pk)
    wanted = ([pk for pk in current if pk != chosen_id] if request.POST.get("remove") == "1"
              else current + ([chosen_id] if chosen_id not in current else []))
    try:
        services.update_record(actor=request.member, record=deal, values={"contacts": wanted})
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect(record_path("deal", deal.pk))


# --- Tasks: done or reopened with one click ---------------------------------------------------------

@require_POST
@record_view
def task_status(request: HttpRequest, pk: int) -> HttpResponse:
    task = selectors.record_for(request.member, "task", pk, action="edit")
    status = request.POST.get("status", "")
    if status not in ("completed", "in_progress"):
        raise Http404
    try:
        services.update_record(actor=request.member, record=task, values={"status": status})
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect(record_path("task", task.pk))


# --- The recycle bin ---------------------------------------------------------------------------

@login_required
def recycle_bin(request: HttpRequest) -> HttpResponse:
    member = request.member
    groups = []
    for rt in record_types():
        if permissions.scope_of(member, rt.code, "delete") == "none":
            continue
        rows = list(selectors.recycle_bin(member, rt.code)[:101])
        if rows:
            groups.append({"rt": rt, "more": len(rows) > 100, "rows": [
                {"record": row, "title": rt.title(row),
                 "subtitle": _deal_detail(row) if rt.code == "deal" else rt.subtitle(row),
                 "who": str(row.deleted_by) if row.deleted_by_id else "",
                 "purge_on": row.deleted_at + datetime.timedelta(days=services.RECYCLE_BIN_DAYS),
                 "url": record_path(rt.code, row.pk)} for row in rows[:100]]})
    return render(request, "crm/record_bin.html", {"groups": groups, "days": services.RECYCLE_BIN_DAYS})
