"""List pages of CRM records: ``/crm/<contacts|companies|leads|deals>/`` (tasks have their own pages).

A list is a table of the records a person may read, narrowed by conditions of the filter language
(crm.core.filters), a search (crm.core.search) and a sort, with the columns they chose. Everything
that decides what the table shows lives in the address, so a list can be bookmarked, sent to a
colleague or saved as a view (crm.core.saved_views):

    ?view=3                 a saved view: its conditions, columns and sort
    &m=and&c0f=owner&c0o=eq&c0v=me    conditions (field, operator, value), all or any of them (m)
    &filter=<json>          a filter tree the builder cannot show as rows (from the API), kept as it is
    &col=last_name&col=company        columns, in order
    &sort=-value            sort keys, comma separated
    &q=kowal                search
    &size=50&cursor=…       page size and the keyset cursor of the page

Pages are keyset pages (the API's cursor): no OFFSET, and no COUNT over a whole table; a count is
shown only when it is cheap (a page that is not full, or "1000+" from a capped count).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from crm.core import filters, saved_views, search, selectors, services
from crm.core.filters import Kind
from crm.core.models import SavedView
from crm.core.registry import RecordType, record_type_for_slug, record_types
from crm.core.templatetags.crm_format import (
    format_day,
    format_moment,
    format_money,
    format_number,
    format_phone_number,
)
from identity.members import permissions
from identity.members.models import Membership
from identity.members.selectors import active_members

LIST_CODES = ("contact", "company", "lead", "deal", "product", "quote")
PAGE_SIZES = (25, 50, 100)
DEFAULT_PAGE_SIZE = 50
COUNT_CAP = 1000  # "1000+": counting further would read the whole table
MAX_CONDITIONS = 20
MAX_BULK = max(PAGE_SIZES)
# The fields that make a record's title: their cells link to the record page.
TITLE_FIELDS = {"contact": ("first_name", "last_name"), "company": ("name",), "lead": ("title",),
                "deal": ("title",)}
NOT_COLUMNS = frozenset({"id"})
LIST_OPERATORS = ("in", "not_in", "has_any", "has_all", "between")
NO_VALUE = ("is_empty", "is_not_empty")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{3,8}$")
_CONDITION_KEY = re.compile(r"^c(\d{1,2})f$")
_CONDITION_PART = re.compile(r"^c\d{1,2}[fovr]$")

OPERATOR_LABELS = {
    "eq": gettext_lazy("is"), "ne": gettext_lazy("is not"), "contains": gettext_lazy("contains"),
    "not_contains": gettext_lazy("does not contain"), "starts_with": gettext_lazy("starts with"),
    "in": gettext_lazy("is any of"), "not_in": gettext_lazy("is none of"), "gt": gettext_lazy("more than"),
    "gte": gettext_lazy("at least"), "lt": gettext_lazy("less than"), "lte": gettext_lazy("at most"),
    "between": gettext_lazy("between"), "is_empty": gettext_lazy("is empty"),
    "is_not_empty": gettext_lazy("is not empty"), "has": gettext_lazy("has"), "has_any": gettext_lazy("has any of"),
    "has_all": gettext_lazy("has all of"),
}
DATE_OPERATOR_LABELS = {"gt": gettext_lazy("after"), "gte": gettext_lazy("on or after"),
                        "lt": gettext_lazy("before"), "lte": gettext_lazy("on or before")}
RELATIVE_LABELS = {
    "today": gettext_lazy("today"), "yesterday": gettext_lazy("yesterday"), "tomorrow": gettext_lazy("tomorrow"),
    "this_week": gettext_lazy("this week"), "last_week": gettext_lazy("last week"),
    "next_week": gettext_lazy("next week"), "this_month": gettext_lazy("this month"),
    "last_month": gettext_lazy("last month"), "next_month": gettext_lazy("next month"),
    "this_year": gettext_lazy("this year"), "last_7_days": gettext_lazy("in the last 7 days"),
    "last_30_days": gettext_lazy("in the last 30 days"), "next_7_days": gettext_lazy("in the next 7 days"),
    "next_30_days": gettext_lazy("in the next 30 days"), "overdue": gettext_lazy("overdue (past)"),
}
LEAD_STATUS_BADGES = {"new": "info", "in_progress": "warn", "converted": "ok", "junk": ""}
# What an empty list says about the record type (the first thing a new portal sees).
PURPOSE = {
    "contact": gettext_lazy("Contacts are the people you sell to and work with: their phone numbers, e-mail "
                            "addresses and company, with every call, meeting and deal in one place."),
    "company": gettext_lazy("Companies are the businesses and institutions you work with: their tax numbers "
                            "(NIP), addresses, people and deals."),
    "lead": gettext_lazy("Leads are enquiries that may turn into business: a form on your website, a phone call, "
                         "a contact from a fair. Qualify them, then convert the good ones into deals."),
    "deal": gettext_lazy("Deals are sales in progress: what you offer, for how much, and at which stage of your "
                         "pipeline it is."),
}
EMPTY_TITLES = {"contact": gettext_lazy("No contacts yet"), "company": gettext_lazy("No companies yet"),
                "lead": gettext_lazy("No leads yet"), "deal": gettext_lazy("No deals yet")}
NO_MATCH_TITLES = {"contact": gettext_lazy("No contacts match"), "company": gettext_lazy("No companies match"),
                   "lead": gettext_lazy("No leads match"), "deal": gettext_lazy("No deals match")}
# Links, sort headers and small forms of a list replace the list in place (htmx) and keep the address.
BOOST = mark_safe('hx-boost="true" hx-target="#list-page" hx-select="#list-page" hx-swap="outerHTML"')
ADD_LABELS = {"contact": gettext_lazy("Add contact"), "company": gettext_lazy("Add company"),
              "lead": gettext_lazy("Add lead"), "deal": gettext_lazy("Add deal")}


# --- The state of a list: what the address asks for ---------------------------------------------

@dataclass
class Condition:
    """One row of the filter builder, as typed: values are text until the field's type reads them."""

    field: str
    op: str
    values: list[str] = field(default_factory=list)
    relative: str = ""  # a relative date ("this_month") instead of a value
    error: str = ""

    def key(self) -> tuple:
        return self.field, self.op, tuple(self.values), self.relative

    def params(self, index: int) -> list[tuple[str, str]]:
        pairs = [(f"c{index}f", self.field), (f"c{index}o", self.op)]
        pairs += [(f"c{index}v", value) for value in self.values]
        if self.relative:
            pairs.append((f"c{index}r", self.relative))
        return pairs


@dataclass
class ListState:
    conditions: list[Condition] = field(default_factory=list)
    match: str = "and"
    advanced: dict | None = None  # a filter tree the builder cannot show as rows
    columns: list[str] = field(default_factory=list)
    sort: list[str] = field(default_factory=list)
    q: str = ""
    size: int = DEFAULT_PAGE_SIZE
    cursor: str = ""
    view: SavedView | None = None
    errors: list[str] = field(default_factory=list)
    base: str = ""  # the list's path, /crm/<slug>/

    def params(self, *, cursor: str = "", **changes) -> list[tuple[str, str]]:
        """The address of this state (or of it with ``changes``), every part explicit."""
        state = replace(self, **changes) if changes else self
        pairs: list[tuple[str, str]] = []
        if state.view is not None:
            pairs.append(("view", str(state.view.pk)))
        pairs.append(("m", state.match))
        for index, condition in enumerate(state.conditions):
            pairs += condition.params(index)
        if state.advanced:
            pairs.append(("filter", json.dumps(state.advanced, ensure_ascii=False, separators=(",", ":"))))
        pairs += [("col", name) for name in state.columns]
        pairs.append(("sort", ",".join(state.sort)))
        if state.q:
            pairs.append(("q", state.q))
        if state.size != DEFAULT_PAGE_SIZE:
            pairs.append(("size", str(state.size)))
        if cursor:
            pairs.append(("cursor", cursor))
        return pairs

    def query(self, **changes) -> str:
        return urlencode(self.params(**changes))

    def url(self, **changes) -> str:
        """The list's address with ``changes`` (absolute: the page may answer a POST to another address)."""
        return f"{self.base}?{self.query(**changes)}"

    def comparable(self) -> tuple:
        return (self.match if len(self.conditions) > 1 else "and", [c.key() for c in self.conditions],
                self.advanced or None, list(self.columns), list(self.sort))

    @property
    def is_filtered(self) -> bool:
        return bool(self.conditions or self.advanced or self.q)


def _infos(code: str) -> dict[str, filters.FieldInfo]:
    return {info.name: info for info in filters.filterable_fields(code)}


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _condition_from_node(node) -> Condition | None:
    if not isinstance(node, dict) or not isinstance(node.get("field"), str) or not isinstance(node.get("op"), str):
        return None
    value = node.get("value")
    if isinstance(value, dict):
        relative = value.get("relative")
        return Condition(node["field"], node["op"], [], relative) if isinstance(relative, str) else None
    if isinstance(value, list):
        if any(isinstance(item, dict | list) for item in value):
            return None
        return Condition(node["field"], node["op"], [",".join(_text(item) for item in value)])
    return Condition(node["field"], node["op"], [] if value is None else [_text(value)])


def flat_conditions(tree) -> tuple[str, list[Condition]] | None:
    """A filter tree as builder rows (all / any of plain conditions), or None when it is nested."""
    if tree in (None, {}):
        return "and", []
    if not isinstance(tree, dict):
        return None
    if "field" in tree:
        condition = _condition_from_node(tree)
        return ("and", [condition]) if condition else None
    if len(tree) == 1 and next(iter(tree)) in ("and", "or") and isinstance(next(iter(tree.values())), list):
        match, nodes = next(iter(tree.items()))
        conditions = [_condition_from_node(node) for node in nodes]
        return (match, conditions) if all(conditions) else None
    return None


def _conditions_from_query(query: QueryDict) -> list[Condition]:
    indexes = sorted({int(found.group(1)) for key in query if (found := _CONDITION_KEY.match(key))})
    conditions = []
    for index in indexes[:MAX_CONDITIONS]:
        name, op = query.get(f"c{index}f", "").strip(), query.get(f"c{index}o", "").strip()
        if not name:
            continue  # an empty row of the builder
        values = [value.strip() for value in query.getlist(f"c{index}v") if value.strip()]
        conditions.append(Condition(name, op or "eq", values, query.get(f"c{index}r", "").strip()))
    return conditions


def read_state(rt: RecordType, query: QueryDict, member, infos: dict[str, filters.FieldInfo], *,
               view: SavedView | None = None) -> ListState:
    state = ListState(base=f"/crm/{rt.url_slug}/", view=view)
    if view is None and query.get("view"):
        view = saved_views.visible_view(member, query["view"])
        if view.entity != rt.code:
            raise Http404(_("No such view, or you may not see it."))
        state.view = view
    view = state.view
    if "m" in query:
        state.match = "or" if query.get("m") == "or" else "and"
        state.conditions = _conditions_from_query(query)
        raw = query.get("filter", "").strip()
        if raw:
            try:
                tree = json.loads(raw)
            except ValueError:
                state.errors.append(_("The filter in the address is not valid; it was left out."))
                tree = None
            if tree:
                flat = flat_conditions(tree)
                if flat is None:
                    state.advanced = tree
                elif state.conditions:
                    state.advanced = tree if flat[1] else None  # rows already given: keep the tree whole
                else:
                    state.match, state.conditions = flat
    elif view is not None and view.filters:
        flat = flat_conditions(view.filters)
        if flat is None:
            state.advanced = view.filters
        else:
            state.match, state.conditions = flat
    displayable = _displayable(infos)
    if "col" in query:
        columns = query.getlist("col")
    else:
        columns = list(view.columns) if view is not None and view.columns else list(rt.default_columns)
    state.columns = [name for name in dict.fromkeys(columns) if name in displayable] \
        or [name for name in rt.default_columns if name in displayable]
    if "sort" in query:
        state.sort = [key.strip() for key in query.get("sort", "").split(",") if key.strip()][:3]
    elif view is not None:
        state.sort = list(view.ordering)
    state.q = " ".join(query.get("q", "").split())[:search.MAX_QUERY]
    try:
        size = int(query.get("size", DEFAULT_PAGE_SIZE))
    except ValueError:
        size = DEFAULT_PAGE_SIZE
    state.size = size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE
    state.cursor = query.get("cursor", "")
    return state


def view_state(view: SavedView, rt: RecordType, member, infos) -> ListState:
    """The state a saved view opens with (to tell whether the list was changed since)."""
    return read_state(rt, QueryDict(""), member, infos, view=view)


# --- Conditions → the filter language --------------------------------------------------------------

def _scalar(info: filters.FieldInfo, text: str):
    if info.type == Kind.BOOLEAN:
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


def condition_node(condition: Condition, info: filters.FieldInfo | None) -> dict:
    node: dict = {"field": condition.field, "op": condition.op}
    if condition.op in NO_VALUE:
        return node
    if info is not None and info.type in (Kind.DATE, Kind.DATETIME) and condition.relative:
        node["value"] = {"relative": condition.relative}
        return node
    if condition.op in LIST_OPERATORS:
        items = [part.strip() for value in condition.values for part in value.split(",") if part.strip()]
        node["value"] = [_scalar(info, item) for item in items] if info else items
        return node
    text = condition.values[0] if condition.values else ""
    node["value"] = _scalar(info, text) if info else text
    return node


def check_conditions(code: str, state: ListState, infos, member) -> None:
    """Marks each condition the filter language refuses with its message (the list ignores it)."""
    for condition in state.conditions:
        try:
            filters.compile_filter(code, condition_node(condition, infos.get(condition.field)), actor=member)
        except filters.FilterError as error:
            condition.error = " ".join(error.messages)
    if state.advanced is not None:
        try:
            filters.compile_filter(code, state.advanced, actor=member)
        except filters.FilterError as error:
            state.errors += error.messages
            state.advanced = None


def filter_tree(state: ListState, infos) -> dict:
    """The filter the list applies (conditions with an error left out): also what a saved view stores."""
    nodes = [condition_node(condition, infos.get(condition.field)) for condition in state.conditions
             if not condition.error]
    tree: dict = {}
    if len(nodes) == 1:
        tree = nodes[0]
    elif nodes:
        tree = {state.match: nodes}
    if state.advanced:
        tree = {"and": [state.advanced, tree]} if tree else state.advanced
    return tree


# --- Columns and cells ------------------------------------------------------------------------------

def _displayable(infos: dict[str, filters.FieldInfo]) -> dict[str, filters.FieldInfo]:
    return {name: info for name, info in infos.items() if name not in NOT_COLUMNS}


@dataclass(frozen=True)
class Column:
    name: str  # a field as filters name it; "" for the record's title
    label: str
    info: filters.FieldInfo | None
    is_title: bool = False

    @property
    def sortable(self) -> bool:
        """Sortable by clicking its header. Relations to other records are left out: the filter language
        sorts them by id, which means nothing to a reader (people, stages and lists sort fine)."""
        if self.info is None or not self.info.sortable:
            return False
        return not (self.info.type == Kind.RELATION and self.info.relation is not None
                    and any(rt.model._meta.label == self.info.relation for rt in record_types()))

    @property
    def kind(self) -> str:
        """The field's type as a CSS class of its cells (``k-emails``, ``k-number`` …)."""
        return f"k-{self.info.type}" if self.info is not None else ""

    @property
    def align_end(self) -> bool:
        return self.info is not None and self.info.type == Kind.NUMBER


def columns_for(rt: RecordType, state: ListState, infos) -> list[Column]:
    titles = TITLE_FIELDS.get(rt.code, ())
    columns = [Column(name, capfirst(str(infos[name].label)), infos[name], name in titles) for name in state.columns]
    if not any(column.is_title for column in columns):
        columns.insert(0, Column("", capfirst(str(rt.label)), None, True))
    return columns


def _related_type(model) -> RecordType | None:
    return next((candidate for candidate in record_types() if candidate.model is model), None)


def record_url(rt: RecordType, pk) -> str:
    return f"/crm/{rt.url_slug}/{pk}/"


def _list_of_points(items, render_one) -> SafeString:
    items = [item for item in items or [] if isinstance(item, dict) and item.get("value")]
    if not items:
        return mark_safe("")
    first = render_one(items[0]["value"])
    if len(items) == 1:
        return first
    more = ", ".join(item["value"] for item in items[1:])
    return format_html('{} <span class="more" title="{}">+{}</span>', first, more, len(items) - 1)


def _email(value: str) -> SafeString:
    return format_html('<a href="mailto:{}" title="{}">{}</a>', value, value, value)


def _phone(value: str) -> SafeString:
    return format_html('<a href="tel:{}">{}</a>', value, format_phone_number(value))


def stage_badge(stage) -> SafeString:
    colour = stage.color if _COLOUR.match(stage.color or "") else "#98a2b3"
    return format_html('<span class="stage-badge" style="--stage: {}">{}</span>', colour, stage.name)


class CellRenderer:
    """Turns a record's field into what its table cell shows; knows the page's lookups (people by id)."""

    def __init__(self, rt: RecordType, state: ListState, members: dict[int, Membership]) -> None:
        self.rt, self.state, self.members = rt, state, members

    def tag_link(self, tag: str) -> SafeString:
        wanted = Condition("tags", "has", [tag])
        conditions = self.state.conditions + ([wanted] if wanted.key() not in
                                              [c.key() for c in self.state.conditions] else [])
        url = self.state.url(conditions=conditions)
        return format_html('<a class="tag" href="{}" title="{}">{}</a>', url, _("Show only records with this tag"),
                           tag)

    def render(self, column: Column, record) -> SafeString:
        if not column.name:
            return format_html('<a class="title" href="{}">{}</a>', record_url(self.rt, record.pk),
                               self.rt.title(record) or _("(no name)"))
        if column.name.startswith(filters.CUSTOM_PREFIX):
            value = (record.custom or {}).get(column.name.removeprefix(filters.CUSTOM_PREFIX))
            return self.custom(column.info, value)
        content = self.field(column, record)
        if column.is_title:
            text = content or (_("(no name)") if column.name == TITLE_FIELDS[self.rt.code][0]
                               and not self.rt.title(record) else "")
            if text:
                return format_html('<a class="title" href="{}">{}</a>', record_url(self.rt, record.pk), text)
        return content

    def field(self, column: Column, record) -> SafeString | str:
        name, kind = column.name, column.info.type
        model_field = record._meta.get_field(name)
        if kind == Kind.RELATION:
            related = getattr(record, name)
            if related is None:
                return ""
            if name == "stage":
                return stage_badge(related)
            target = _related_type(type(related))
            if target is not None:
                return format_html('<a href="{}">{}</a>', record_url(target, related.pk), target.title(related))
            return str(related)
        if kind == Kind.RELATIONS:
            target = _related_type(model_field.related_model)
            items = list(getattr(record, name).all())
            if target is None:
                return ", ".join(str(item) for item in items)
            return format_html_join(", ", '<a href="{}">{}</a>',
                                    ((record_url(target, item.pk), target.title(item)) for item in items))
        value = getattr(record, name)
        if kind == Kind.TAGS:
            return format_html_join("", "{}", ((self.tag_link(tag),) for tag in value or []))
        if kind == Kind.EMAILS:
            return _list_of_points(value, _email)
        if kind == Kind.PHONES:
            return _list_of_points(value, _phone)
        if kind == Kind.CHOICE:
            if value in (None, ""):
                return ""
            label = capfirst(getattr(record, f"get_{name}_display")())
            if self.rt.code == "lead" and name == "status":
                return format_html('<span class="badge {}">{}</span>', LEAD_STATUS_BADGES.get(value, ""), label)
            return label
        if kind == Kind.BOOLEAN:
            return self.yes_no(value)
        if kind == Kind.NUMBER:
            if value is None:
                return ""
            if name == "value" and hasattr(record, "currency"):
                return format_money(value, record.currency or None)
            if "probability" in name:
                return f"{format_number(value)}\u00a0%"
            return format_number(value)
        if kind == Kind.DATE:
            return format_day(value)
        if kind == Kind.DATETIME:
            return format_html('<time title="{}">{}</time>', format_moment(value), format_day(value)) if value else ""
        if isinstance(model_field, models.URLField) and value:
            return format_html('<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>', value,
                               Truncator(re.sub(r"^https?://(www\.)?", "", value)).chars(40))
        return Truncator(value or "").chars(80)

    @staticmethod
    def yes_no(value) -> SafeString:
        if value is None:
            return mark_safe("")
        return format_html('<span class="yes-no" aria-label="{}">{}</span>', _("yes") if value else _("no"),
                           "✓" if value else "—")

    def custom(self, info: filters.FieldInfo, value) -> SafeString | str:
        if value in (None, "", []):
            return ""
        kind = info.custom_type
        if kind == "money":
            return format_money(value)
        if kind == "number":
            return format_number(value)
        if kind == "date":
            return format_day(value)
        if kind == "datetime":
            return format_html('<time title="{}">{}</time>', format_moment(value), format_day(value))
        if kind == "boolean":
            return self.yes_no(bool(value))
        if kind == "multiselect":
            return ", ".join(str(item) for item in value) if isinstance(value, list) else str(value)
        if kind == "user":
            member = self.members.get(value) if isinstance(value, int) else None
            return str(member) if member else ""
        if kind == "url":
            return format_html('<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>', value,
                               Truncator(str(value)).chars(40))
        if kind == "email":
            return _email(str(value))
        if kind == "phone":
            return _phone(str(value))
        return Truncator(str(value)).chars(80)


# --- Reading the page ---------------------------------------------------------------------------

class _PagerRequest:
    """What the API's keyset pagination reads from a request: the cursor."""

    def __init__(self, cursor: str) -> None:
        self.query_params = {"cursor": cursor} if cursor else {}

    def build_absolute_uri(self) -> str:
        return "/"


def _cursor_of(link: str | None) -> str:
    if not link:
        return ""
    from urllib.parse import parse_qs, urlsplit

    return parse_qs(urlsplit(link).query).get("cursor", [""])[0]


@dataclass
class Page:
    rows: list
    next_cursor: str = ""
    previous_cursor: str = ""
    count_label: str = ""
    cursor_error: str = ""


def page_of(queryset: models.QuerySet, ordering: list, state: ListState) -> Page:
    """One keyset page, through the same cursor as the API (``RecordCursorPagination``)."""
    from rest_framework.exceptions import ValidationError as CursorError

    from crm.core.api import RecordCursorPagination

    class ListView:
        @staticmethod
        def cursor_ordering():
            return ordering

    pager = RecordCursorPagination()
    pager.page_size_query_param = None
    pager.page_size = state.size
    error = ""
    try:
        rows = pager.paginate_queryset(queryset, _PagerRequest(state.cursor), view=ListView)
    except CursorError:
        error = _("That page is no longer valid; here is the first page.")
        rows = pager.paginate_queryset(queryset, _PagerRequest(""), view=ListView)
        state.cursor = ""
    page = Page(rows=list(rows), next_cursor=_cursor_of(pager.get_next_link()),
                previous_cursor=_cursor_of(pager.get_previous_link()), cursor_error=error)
    if not state.cursor:
        # Bounded: at most COUNT_CAP + 1 rows are counted, never the whole table.
        total = queryset.order_by().values("pk")[:COUNT_CAP + 1].count() if page.next_cursor else len(page.rows)
        if total > COUNT_CAP:
            page.count_label = _("%(count)s+ records") % {"count": format_number(COUNT_CAP)}
        else:
            page.count_label = ngettext("%(count)s record", "%(count)s records", total) % {
                "count": format_number(total)}
    return page


def list_queryset(member, rt: RecordType, state: ListState, infos, columns: list[Column]):
    """The readable records the state asks for, with the rows the chosen columns show; and the sort."""
    queryset = selectors.records(member, rt.code)
    related, prefetch = [], []
    for column in columns:
        if column.info is None or column.name.startswith(filters.CUSTOM_PREFIX):
            continue
        model_field = rt.model._meta.get_field(column.name)
        if column.info.type == Kind.RELATION:
            related.append(f"{column.name}__user" if model_field.related_model is Membership else column.name)
        elif column.info.type == Kind.RELATIONS:
            target = model_field.related_model
            items = target.objects.all()
            if hasattr(target.objects, "alive"):
                items = target.objects.alive()
            prefetch.append(Prefetch(column.name, queryset=items))
    if related:
        queryset = queryset.select_related(*related)
    if prefetch:
        queryset = queryset.prefetch_related(*prefetch)
    tree = filter_tree(state, infos)
    if tree:
        queryset = queryset.filter(filters.compile_filter(rt.code, tree, actor=member))
    try:
        ordering = filters.compile_ordering(rt.code, state.sort)
    except filters.FilterError as error:
        state.errors += error.messages
        state.sort = []
        ordering = filters.compile_ordering(rt.code, [])
    if state.q and search.search_terms(state.q):
        queryset = search.search_records(queryset, state.q)
        if not state.sort:
            ordering = ["-search_score", "-id"]
    return queryset, ordering


def _custom_members(columns: list[Column], rows: list) -> dict[int, Membership]:
    codes = [column.name.removeprefix(filters.CUSTOM_PREFIX) for column in columns
             if column.info is not None and column.info.custom_type == "user"]
    ids = {(row.custom or {}).get(code) for row in rows for code in codes}
    ids = {pk for pk in ids if isinstance(pk, int)}
    if not ids:
        return {}
    return {member.pk: member for member in Membership.objects.filter(pk__in=ids).select_related("user")}


# --- Filter builder -----------------------------------------------------------------------------

def operator_choices(info: filters.FieldInfo) -> list[tuple[str, str]]:
    dated = info.type in (Kind.DATE, Kind.DATETIME)
    return [(op, str((DATE_OPERATOR_LABELS.get(op) if dated else None) or OPERATOR_LABELS[op]))
            for op in info.operators if op != "between"]


def builder_fields(infos) -> list[tuple[str, str]]:
    return sorted(((name, capfirst(str(info.label))) for name, info in infos.items() if name != "id"),
                  key=lambda pair: pair[1].lower())


class Lookups:
    """Small lists the filter builder and bulk actions offer, each read once per request."""

    def __init__(self, member) -> None:
        self.member = member
        self._cache: dict = {}

    def _once(self, key, load):
        if key not in self._cache:
            self._cache[key] = load()
        return self._cache[key]

    def members(self) -> list[Membership]:
        return self._once("members", lambda: sorted(active_members(), key=lambda m: str(m).lower()))

    def stages(self) -> list:
        from crm.deals.models import Stage
        from crm.deals.services import pipelines_for

        return self._once("stages", lambda: list(
            Stage.objects.filter(pipeline__in=pipelines_for(self.member)).select_related("pipeline")
            .order_by("pipeline__position", "pipeline_id", "position", "id")))

    def pipelines(self) -> list:
        from crm.deals.services import pipelines_for

        return self._once("pipelines", lambda: list(pipelines_for(self.member)))

    def choices(self, kind: str) -> list:
        from crm.dictionaries.models import Choice

        return self._once(("choices", kind), lambda: list(Choice.objects.filter(kind=kind, is_active=True)))


def value_widget(info: filters.FieldInfo | None, lookups: Lookups) -> dict:
    """How the builder asks for a value of this field: a text box, a list of options or a record search."""
    from crm.core.forms import CHOICE_KINDS

    if info is None:
        return {"kind": "text"}
    if info.type in (Kind.DATE, Kind.DATETIME):
        return {"kind": "date", "relative": [(name, str(label)) for name, label in RELATIVE_LABELS.items()]}
    if info.type == Kind.BOOLEAN:
        return {"kind": "select", "options": [("true", _("yes")), ("false", _("no"))]}
    if info.choices:
        return {"kind": "select", "options": [(value, str(label)) for value, label in info.choices]}
    if info.type == Kind.RELATIONS:
        target = next((rt for rt in record_types() if rt.model._meta.label == info.relation), None)
        if target is not None:
            return {"kind": "lookup", "slug": target.url_slug}
    if info.type == Kind.RELATION:
        if info.relation == Membership._meta.label:
            return {"kind": "select", "options": [("me", _("me"))] + [(str(m.pk), str(m)) for m in lookups.members()]}
        if info.name == "stage":
            return {"kind": "select", "options": [(str(s.pk), f"{s.pipeline.name} › {s.name}")
                                                  for s in lookups.stages()]}
        if info.name == "pipeline":
            return {"kind": "select", "options": [(str(p.pk), p.name) for p in lookups.pipelines()]}
        if info.relation == "crm_dictionaries.Choice":
            kind = CHOICE_KINDS.get(info.name, info.name)
            return {"kind": "select", "options": [(str(c.pk), c.name) for c in lookups.choices(kind)]}
        target = next((rt for rt in record_types() if rt.model._meta.label == info.relation), None)
        if target is not None:
            return {"kind": "lookup", "slug": target.url_slug}
    if info.type == Kind.NUMBER:
        return {"kind": "text", "inputmode": "decimal"}
    return {"kind": "text"}


def _value_label(condition: Condition, info: filters.FieldInfo | None, lookups: Lookups, member) -> str:
    if condition.op in NO_VALUE:
        return ""
    if condition.relative:
        return str(RELATIVE_LABELS.get(condition.relative, condition.relative))
    parts = [part.strip() for value in condition.values for part in
             (value.split(",") if condition.op in LIST_OPERATORS else [value]) if part.strip()]
    if info is None:
        return ", ".join(parts)
    widget = value_widget(info, lookups)
    if widget["kind"] == "lookup":
        target = record_type_for_slug(widget["slug"])
        ids = [int(part) for part in parts if part.isdigit()]
        found = {record.pk: record for record in selectors.records(member, target.code).filter(pk__in=ids)}
        return ", ".join(str(target.title(found[int(part)])) if part.isdigit() and int(part) in found else part
                         for part in parts)
    if info.type == Kind.NUMBER:
        return ", ".join(format_number(part) or part for part in parts)
    if info.type in (Kind.DATE, Kind.DATETIME):
        return ", ".join(format_day(part) or part for part in parts)
    labels = dict(widget.get("options") or ())
    return ", ".join(str(labels.get(part, part)) for part in parts)


@dataclass
class Chip:
    label: str
    remove_url: str
    error: str = ""


def chips_for(state: ListState, infos, lookups: Lookups, member) -> list[Chip]:
    chips = []
    for index, condition in enumerate(state.conditions):
        info = infos.get(condition.field)
        label = capfirst(str(info.label)) if info else condition.field
        dated = info is not None and info.type in (Kind.DATE, Kind.DATETIME)
        op = str((DATE_OPERATOR_LABELS.get(condition.op) if dated else None)
                 or OPERATOR_LABELS.get(condition.op, condition.op))
        if dated and condition.op == "eq" and condition.relative:
            op = ""
        text = " ".join(part for part in (label, op, _value_label(condition, info, lookups, member)) if part)
        rest = state.conditions[:index] + state.conditions[index + 1:]
        chips.append(Chip(text, state.url(conditions=rest), condition.error))
    if state.advanced:
        chips.append(Chip(_("Filter of the view (advanced)"), state.url(advanced=None)))
    return chips


def builder_rows(code: str, state: ListState, infos, lookups: Lookups) -> list[dict]:
    rows = [builder_row(code, index, condition, infos, lookups) for index, condition in enumerate(state.conditions)]
    rows.append(builder_row(code, len(state.conditions), None, infos, lookups))
    return rows


def builder_row(code: str, index: int, condition: Condition | None, infos, lookups: Lookups) -> dict:
    info = infos.get(condition.field) if condition else None
    operators = operator_choices(info) if info else [(op, str(label)) for op, label in OPERATOR_LABELS.items()
                                                     if op != "between"]
    widget = value_widget(info, lookups)
    selected = condition.op if condition else (operators[0][0] if info else "eq")
    multiple = selected in LIST_OPERATORS and widget["kind"] == "select"
    values = condition.values if condition else []
    if widget["kind"] == "select" and selected in LIST_OPERATORS:
        values = [part.strip() for value in values for part in value.split(",") if part.strip()]
    lookup_html = ""
    if widget["kind"] == "lookup":
        from crm.core.forms import LookupWidget

        lookup_html = LookupWidget(widget["slug"]).render(f"c{index}v", values[0] if values else None,
                                                          attrs={"id": f"c{index}v"})
    return {"index": index, "condition": condition, "field": condition.field if condition else "",
            "operators": operators, "op": selected, "widget": widget, "values": values,
            "value": values[0] if values else "", "multiple": multiple, "no_value": selected in NO_VALUE,
            "relative": condition.relative if condition else "", "lookup_html": lookup_html,
            "error": condition.error if condition else ""}


# --- Pages ------------------------------------------------------------------------------------

def _list_type(slug: str) -> RecordType:
    try:
        rt = record_type_for_slug(slug)
    except LookupError:
        raise Http404 from None
    if rt.code not in LIST_CODES:
        raise Http404
    return rt


def _can(member, code: str, action: str) -> bool:
    return permissions.can(member, code, action, creating=True)


def _quick_filters(state: ListState) -> list[dict]:
    keys = [condition.key() for condition in state.conditions]
    quick = [(_("Mine"), Condition("owner", "eq", ["me"])),
             (_("Created this month"), Condition("created_at", "eq", [], "this_month"))]
    result = []
    for label, condition in quick:
        active = condition.key() in keys
        conditions = [c for c in state.conditions if c.key() != condition.key()] if active \
            else [*state.conditions, condition]
        result.append({"label": label, "active": active, "url": state.url(conditions=conditions)})
    return result


def _hidden(state: ListState, *, without: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """The state as hidden inputs of a form that changes one part of it (``without`` those parts)."""
    skip = set(without)
    return [(name, value) for name, value in state.params()
            if ("c" if _CONDITION_PART.match(name) else name) not in skip]


def list_context(request: HttpRequest, rt: RecordType, state: ListState, infos, **extra) -> dict:
    member = request.member
    code = rt.code
    lookups = Lookups(member)
    check_conditions(code, state, infos, member)
    columns = columns_for(rt, state, infos)
    queryset, ordering = list_queryset(member, rt, state, infos, columns)
    page = page_of(queryset, ordering, state)
    renderer = CellRenderer(rt, state, _custom_members(columns, page.rows))
    rows = [{"pk": record.pk, "title": rt.title(record) or _("(no name)"),
             "cells": [{"html": renderer.render(column, record), "column": column} for column in columns]}
            for record in page.rows]
    sort_key = state.sort[0] if state.sort else ""
    headers = []
    for column in columns:
        current = sort_key.lstrip("-") == column.name and bool(column.name)
        descending = current and sort_key.startswith("-")
        next_sort = ["-" + column.name] if current and not descending else [column.name]
        headers.append({"column": column, "sorted": current, "descending": descending,
                        "url": state.url(sort=next_sort) if column.sortable else "",
                        "aria_sort": ("descending" if descending else "ascending") if current else ""})
    can_edit, can_delete = _can(member, code, "edit"), _can(member, code, "delete")
    views = list(saved_views.views_visible_to(member, code))
    current_view = state.view
    changed = False
    if current_view is not None:
        changed = view_state(current_view, rt, member, infos).comparable() != state.comparable()
    plain = ListState(columns=[name for name in rt.default_columns if name in infos])
    customised = state.comparable() != plain.comparable()
    editable = current_view is not None and isinstance(member, Membership) and (
        current_view.owner_id == member.pk or member.has_admin_rights)
    tree = filter_tree(state, infos)
    export = [("csv", "CSV"), ("xlsx", "Excel")] if _can(member, code, "export") else []
    export_query = {"filter": json.dumps(tree, ensure_ascii=False)} if tree else {}
    if state.sort:
        export_query["ordering"] = ",".join(state.sort)
    if state.q:
        export_query["q"] = state.q
    displayable = _displayable(infos)
    chosen = [name for name in state.columns]
    column_choices = [(name, capfirst(str(displayable[name].label)), True) for name in chosen] + sorted(
        ((name, capfirst(str(info.label)), False) for name, info in displayable.items() if name not in chosen),
        key=lambda item: item[1].lower())
    slug = rt.url_slug
    chips = chips_for(state, infos, lookups, member)
    return {
        "rt": rt, "code": code, "slug": slug, "state": state, "page": page, "rows": rows, "headers": headers,
        "columns": columns, "chips": chips,
        "quick_filters": _quick_filters(state), "builder_rows": builder_rows(code, state, infos, lookups),
        "builder_fields": builder_fields(infos), "column_choices": column_choices,
        "views": views, "current_view": current_view, "view_changed": changed, "view_editable": editable,
        "customised": customised, "boost": BOOST,
        "filter_errors": [f"{chip.label}: {chip.error}" for chip in chips if chip.error],
        "empty_title": EMPTY_TITLES.get(code, ""), "no_match_title": NO_MATCH_TITLES.get(code, ""),
        "first_page_query": state.query(),
        "all_url": f"/crm/{slug}/", "list_query": state.query(), "clear_url": state.url(
            conditions=[], advanced=None, q="", cursor=""),
        "next_url": state.url(cursor=page.next_cursor) if page.next_cursor else "",
        "previous_url": state.url(cursor=page.previous_cursor) if page.previous_cursor else "",
        "page_sizes": PAGE_SIZES, "can_create": _can(member, code, "create"), "can_edit": can_edit,
        "can_delete": can_delete, "bulk": can_edit or can_delete,
        "bulk_members": lookups.members() if can_edit else [],
        "bulk_stages": lookups.stages() if can_edit and code == "deal" else [],
        "export": [(label, f"/api/v1/export/{code}/?" + urlencode({"format": fmt, **export_query}))
                   for fmt, label in export],
        "purpose": PURPOSE.get(code, ""), "add_label": ADD_LABELS.get(code, _("Add")),
        "new_url": f"/crm/{slug}/new/",
        "hidden_for_search": _hidden(state, without=("q", "cursor")),
        "hidden_for_columns": _hidden(state, without=("col", "cursor")),
        "hidden_for_builder": _hidden(state, without=("c", "m", "cursor")),
        "hidden_for_size": _hidden(state, without=("size", "cursor")),
        "hidden_for_tag": _hidden(state, without=("cursor",)), "tag_index": len(state.conditions),
        "builder_open": any(condition.error for condition in state.conditions),
        "selected": set(), "bulk_errors": [], "view_errors": {}, "view_form_open": False,
        **extra,
    }


def _render_list(request: HttpRequest, rt: RecordType, state: ListState, infos, *, status: int = 200,
                 **extra) -> HttpResponse:
    context = list_context(request, rt, state, infos, **extra)
    partial = (request.htmx and request.headers.get("HX-Target") == "list-page"
               and not request.headers.get("HX-History-Restore-Request"))
    return render(request, "crm/list_page.html" if partial else "crm/list.html", context, status=status)


def _member_or_403(request: HttpRequest):
    member = getattr(request, "member", None)
    if member is None:
        raise PermissionDenied
    return member


@login_required
def record_list(request: HttpRequest, slug: str) -> HttpResponse:
    rt = _list_type(slug)
    member = _member_or_403(request)
    permissions.require(member, rt.code, "read", creating=True)
    infos = _infos(rt.code)
    state = read_state(rt, request.GET, member, infos)
    return _render_list(request, rt, state, infos)


@login_required
def filter_row(request: HttpRequest, slug: str) -> HttpResponse:
    """One row of the filter builder for the field chosen in it (htmx), with the next "add" button."""
    rt = _list_type(slug)
    member = _member_or_403(request)
    permissions.require(member, rt.code, "read", creating=True)
    infos = _infos(rt.code)
    try:
        index = min(max(int(request.GET.get("i", 0)), 0), MAX_CONDITIONS - 1)
    except ValueError:
        index = 0
    condition = None
    name = request.GET.get(f"c{index}f", "")
    if name in infos:
        op = request.GET.get(f"c{index}o", "")
        operators = [choice for choice, _label in operator_choices(infos[name])]
        condition = Condition(name, op if op in operators else operators[0],
                              [value for value in request.GET.getlist(f"c{index}v") if value.strip()],
                              request.GET.get(f"c{index}r", ""))
    row = builder_row(rt.code, index, condition, infos, Lookups(member))
    return render(request, "crm/list_filter_row.html", {
        "row": row, "builder_fields": builder_fields(infos), "slug": rt.url_slug,
        "add_next": index + 1 if request.GET.get("add") else None})


# --- Bulk actions ----------------------------------------------------------------------------------

def _state_from_post(request: HttpRequest, rt: RecordType, infos) -> ListState:
    query = QueryDict(request.POST.get("state", "").lstrip("?"))
    try:
        return read_state(rt, query, request.member, infos)
    except Http404:
        return read_state(rt, QueryDict(""), request.member, infos)


def _list_address(rt: RecordType, state: ListState) -> str:
    return f"/crm/{rt.url_slug}/?{state.query()}"


def _field_label(rt: RecordType, name: str) -> str:
    if name in ("non_field_errors", "__all__"):
        return ""
    try:
        return capfirst(str(filters.field_info(rt.code, name).label))
    except filters.FilterError:
        return name


def _messages_of(rt: RecordType, error: ValidationError | dict) -> list[str]:
    fields = error if isinstance(error, dict) else (error.message_dict if hasattr(error, "error_dict")
                                                    else {"__all__": error.messages})
    result = []
    for name, messages_ in fields.items():
        label = _field_label(rt, name)
        result += [f"{label}: {message}" if label else str(message) for message in messages_]
    return result


def _refused(member, rt: RecordType, records: list, action: str) -> dict[int, list[str]]:
    scope = permissions.scope_of(member, rt.code, action)
    refusal = str(permissions.NotPermitted(entity_code=rt.code, action=action))
    return {record.pk: [refusal] for record in records if not permissions.owner_in_scope(member, record.owner, scope)}


def _bulk_errors(rt: RecordType, records: list, error: services.BulkValidationError) -> dict[int, list[str]]:
    return {records[index].pk: _messages_of(rt, fields) for index, fields in error.errors.items()}


def bulk_owner(member, rt: RecordType, records: list, owner_id: str) -> dict[int, list[str]] | str:
    owner = next((person for person in active_members() if str(person.pk) == owner_id), None)
    if owner is None:
        return _("Choose the person who takes the records over.")
    refused = _refused(member, rt, records, "edit")
    if refused:
        return refused
    try:
        services.bulk_update_records(actor=member, records=records, values={"owner": owner.pk})
    except services.BulkValidationError as error:
        return _bulk_errors(rt, records, error)
    return {}


def bulk_tag(member, rt: RecordType, records: list, tag: str) -> dict[int, list[str]] | str:
    tag = " ".join(tag.split())
    if not tag:
        return _("Type the tag to add.")
    refused = _refused(member, rt, records, "edit")
    if refused:
        return refused
    groups: dict[tuple, list] = {}
    for record in records:
        if tag not in (record.tags or []):
            groups.setdefault(tuple(record.tags or []), []).append(record)
    errors: dict[int, list[str]] = {}
    with transaction.atomic():
        for tags, group in groups.items():
            # Records with the same tags get the same new list: one bulk write per group.
            try:
                services.bulk_update_records(actor=member, records=group, values={"tags": [*tags, tag]})
            except services.BulkValidationError as error:
                errors |= _bulk_errors(rt, group, error)
        if errors:
            transaction.set_rollback(True)
    return errors


def bulk_stage(member, rt: RecordType, records: list, stage_id: str, lookups: Lookups) -> dict[int, list[str]] | str:
    from crm.deals.services import StageRequirementsError, move_deal

    stage = next((stage for stage in lookups.stages() if str(stage.pk) == stage_id), None)
    if stage is None:
        return _("Choose the stage to move the deals to.")
    errors: dict[int, list[str]] = {}
    with transaction.atomic():
        for deal in records:
            try:
                with transaction.atomic():
                    move_deal(actor=member, deal=deal, stage=stage)
            except StageRequirementsError as error:
                errors[deal.pk] = [message for messages_ in error.message_dict.values() for message in messages_]
            except ValidationError as error:
                errors[deal.pk] = _messages_of(rt, error)
            except PermissionDenied as error:
                errors[deal.pk] = [str(error)]
        if errors:
            transaction.set_rollback(True)
    return errors


def bulk_delete(member, rt: RecordType, records: list) -> dict[int, list[str]] | str:
    refused = _refused(member, rt, records, "delete")
    if refused:
        return refused
    try:
        services.bulk_delete_records(actor=member, records=records)
    except services.BulkValidationError as error:
        return _bulk_errors(rt, records, error)
    return {}


DONE = {
    "owner": gettext_lazy("%(count)s records handed over to %(owner)s."),
    "tag": gettext_lazy("Tag “%(tag)s” added to %(count)s records."),
    "stage": gettext_lazy("%(count)s deals moved to “%(stage)s”."),
    "delete": gettext_lazy("%(count)s records moved to the recycle bin. You can restore them from there."),
}


@login_required
@require_POST
def bulk(request: HttpRequest, slug: str) -> HttpResponse:
    rt = _list_type(slug)
    member = _member_or_403(request)
    infos = _infos(rt.code)
    state = _state_from_post(request, rt, infos)
    action = request.POST.get("action", "")
    ids = list(dict.fromkeys(int(pk) for pk in request.POST.getlist("ids") if pk.isdigit()))[:MAX_BULK]
    lookups = Lookups(member)
    problem: str | dict = ""
    records: list = []
    if not ids:
        problem = _("Select the records first (the boxes at the start of the rows).")
    elif action not in DONE or (action == "stage" and rt.code != "deal"):
        problem = _("Choose what to do with the selected records.")
    else:
        found = {record.pk: record for record in selectors.records(member, rt.code).filter(pk__in=ids)}
        missing = [pk for pk in ids if pk not in found]
        if missing:
            problem = {pk: [_("No such record, or you may not see it.")] for pk in missing}
        else:
            records = [found[pk] for pk in ids]
            if action == "owner":
                problem = bulk_owner(member, rt, records, request.POST.get("owner", ""))
            elif action == "tag":
                problem = bulk_tag(member, rt, records, request.POST.get("tag", ""))
            elif action == "stage":
                problem = bulk_stage(member, rt, records, request.POST.get("stage", ""), lookups)
            else:
                problem = bulk_delete(member, rt, records)
    if not problem:
        owner = next((str(m) for m in active_members() if str(m.pk) == request.POST.get("owner")), "") \
            if action == "owner" else ""
        stage = next((s.name for s in lookups.stages() if str(s.pk) == request.POST.get("stage")), "") \
            if action == "stage" else ""
        messages.success(request, DONE[action] % {"count": len(records), "owner": owner, "stage": stage,
                                                  "tag": " ".join(request.POST.get("tag", "").split())})
        return redirect(_list_address(rt, state))
    by_pk = {record.pk: record for record in records}
    if isinstance(problem, dict):
        found = by_pk or {record.pk: record for record in selectors.records(member, rt.code).filter(pk__in=ids)}
        bulk_errors = [{"title": str(rt.title(found[pk])) if pk in found else f"#{pk}",
                        "url": record_url(rt, pk) if pk in found else "", "messages": lines}
                       for pk, lines in problem.items()]
        summary = ngettext("%(count)s of the selected records could not be changed, so nothing was changed:",
                           "%(count)s of the selected records could not be changed, so nothing was changed:",
                           len(problem)) % {"count": len(problem)}
    else:
        bulk_errors, summary = [], problem
    return _render_list(request, rt, state, infos, status=400, selected=set(ids), bulk_errors=bulk_errors,
                        bulk_summary=summary, bulk_action=action)


# --- Saved views ---------------------------------------------------------------------------------

def _view_values(rt: RecordType, state: ListState, infos) -> dict:
    columns = list(state.columns)
    return {"filters": filter_tree(state, infos),
            "columns": [] if columns == [c for c in rt.default_columns if c in infos] else columns,
            "ordering": list(state.sort)}


@login_required
@require_POST
def create_view(request: HttpRequest, slug: str) -> HttpResponse:
    rt = _list_type(slug)
    member = _member_or_403(request)
    infos = _infos(rt.code)
    state = _state_from_post(request, rt, infos)
    check_conditions(rt.code, state, infos, member)
    try:
        view = saved_views.create_saved_view(actor=member, entity=rt.code, name=request.POST.get("name", ""),
                                             is_shared=request.POST.get("is_shared") == "1",
                                             **_view_values(rt, state, infos))
    except ValidationError as error:
        return _render_list(request, rt, state, infos, status=400, view_errors=error.message_dict,
                            view_form_open=True, view_form_name=request.POST.get("name", ""))
    messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
    return redirect(f"/crm/{rt.url_slug}/?view={view.pk}")


def _own_view(request: HttpRequest, rt: RecordType, pk: int) -> SavedView:
    view = saved_views.visible_view(request.member, pk)
    if view.entity != rt.code:
        raise Http404(_("No such view, or you may not see it."))
    return view


@login_required
@require_POST
def change_view(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """Save the list's current filters, columns and sort into the view, or rename / share it."""
    rt = _list_type(slug)
    member = _member_or_403(request)
    view = _own_view(request, rt, pk)
    infos = _infos(rt.code)
    state = _state_from_post(request, rt, infos)
    if request.POST.get("what") == "settings":
        changes = {"name": request.POST.get("name", ""), "is_shared": request.POST.get("is_shared") == "1"}
    else:
        check_conditions(rt.code, state, infos, member)
        changes = _view_values(rt, state, infos)
    try:
        saved_views.update_saved_view(actor=member, view=view, **changes)
    except ValidationError as error:
        state.view = view
        return _render_list(request, rt, state, infos, status=400, view_errors=error.message_dict,
                            view_settings_open=True)
    messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
    return redirect(f"/crm/{rt.url_slug}/?view={view.pk}")


@login_required
@require_POST
def delete_view(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    rt = _list_type(slug)
    member = _member_or_403(request)
    view = _own_view(request, rt, pk)
    saved_views.delete_saved_view(actor=member, view=view)
    messages.success(request, _("View “%(name)s” deleted.") % {"name": view.name})
    return redirect(reverse("crm-list", args=[rt.url_slug]))
