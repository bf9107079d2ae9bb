"""The deal board (kanban): a column per stage of a pipeline, cards moved by dragging or by a
keyboard-usable "Move" form that also works without JavaScript.

A board of 10 000 deals stays fast: the page loads the first cards of every column in ONE query (a
window function numbers the cards per stage), the column totals come from ONE grouped query, and
"Load more" fetches the next cards of a column by keyset (board_position, id). Every move goes
through ``crm.deals.services.move_deal``; a stage that requires fields answers with a dialog asking
for exactly those fields.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode

from babel.core import UnknownLocaleError
from babel.numbers import get_currency_symbol
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import (
    Case,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Min,
    Q,
    Sum,
    Value,
    When,
    prefetch_related_objects,
)
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language, gettext_lazy, to_locale
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.core import search, selectors
from crm.core.custom_fields import definitions
from crm.core.forms import CUSTOM_PREFIX, record_form_class, values_from_form
from crm.core.models import FieldType
from crm.core.money import portal_currency
from crm.core.services import create_record, update_record
from crm.deals import services as deals
from crm.deals.models import Deal, Pipeline, Stage, StageKind
from identity.members import permissions
from tenants.services import CURRENCIES

PAGE_SIZE = 30  # cards a column shows before "Load more"
MAX_LIMIT = 300  # cards a column may show at once without JavaScript (?column=…&limit=…)
CARD_FIELDS_COOKIE = "deal_card_fields"
# Fields a card may show under its title, in the order they appear; custom fields come after them.
CARD_FIELDS = [
    ("company", gettext_lazy("Company")),
    ("value", gettext_lazy("Value")),
    ("owner", gettext_lazy("Owner")),
    ("expected_close_date", gettext_lazy("Expected close date")),
    ("probability", gettext_lazy("Probability")),
    ("source", gettext_lazy("Acquisition source")),
    ("contacts", gettext_lazy("Contacts")),
    ("stage_age", gettext_lazy("Days in this stage")),
    ("tags", gettext_lazy("Tags")),
]
DEFAULT_CARD_FIELDS = ["company", "value", "owner", "expected_close_date"]
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_DEFAULT_COLOUR = "#4f7cff"


# --- money and small formatting ---------------------------------------------------------------------------------

def format_money(amount, currency: str) -> str:
    """"48 000,00 zł" in Polish, "48,000.00 PLN" in English: grouped, two decimals, the currency's
    symbol in the reader's language."""
    language = get_language() or "pl"
    try:
        symbol = get_currency_symbol(currency, locale=to_locale(language))
    except (UnknownLocaleError, ValueError):
        symbol = currency
    number = number_format(amount or 0, decimal_pos=2, force_grouping=True)
    return f"{number}\u00a0{symbol}"


def _initials(name: str) -> str:
    parts = [part for part in re.split(r"[\s@.]+", name or "") if part]
    return "".join(part[0] for part in parts[:2]).upper() or "?"


def _hue(pk: int) -> int:
    return (pk * 47) % 360


def stage_colour(stage: Stage) -> str:
    """Colours come from administrators and the API; only a plain #rrggbb ever reaches a style attribute."""
    return stage.color if _HEX_COLOUR.match(stage.color or "") else _DEFAULT_COLOUR


def _short_date(value: datetime.date, today: datetime.date) -> str:
    from django.utils.formats import date_format

    return date_format(value, "j M" if value.year == today.year else "j M Y")


# --- what the board shows ---------------------------------------------------------------------------------------

@dataclass
class Filters:
    q: str = ""
    mine: bool = False

    @classmethod
    def of(cls, data) -> Filters:
        return cls(q=(data.get("q") or "").strip()[:200], mine=data.get("mine") in ("1", "on", "true"))

    def query(self) -> str:
        params = {key: value for key, value in (("q", self.q), ("mine", "1" if self.mine else "")) if value}
        return urlencode(params)


@dataclass
class Total:
    currency: str
    count: int = 0
    value: Decimal = Decimal(0)
    weighted: Decimal = Decimal(0)
    show_weighted: bool = True  # not when the role may not see probabilities

    @property
    def value_text(self) -> str:
        return format_money(self.value, self.currency)

    @property
    def weighted_text(self) -> str:
        return format_money(self.weighted, self.currency)


@dataclass
class ColumnTotals:
    count: int = 0
    main: Total | None = None  # in the portal currency
    others: list[Total] = field(default_factory=list)  # deals in other currencies, never added to the main sum


@dataclass
class Column:
    stage: Stage
    colour: str
    totals: ColumnTotals
    cards: list = field(default_factory=list)
    cursor: str = ""  # after the last card shown, for "Load more"

    @property
    def remaining(self) -> int:
        return max(self.totals.count - len(self.cards), 0)

    @property
    def is_closed(self) -> bool:
        return self.stage.kind != StageKind.OPEN

    @property
    def next_limit(self) -> int:
        return min(len(self.cards) + 100, MAX_LIMIT)


@dataclass
class Card:
    deal: Deal
    can_edit: bool
    value_text: str
    owner_name: str
    initials: str
    hue: int
    close_text: str
    overdue: bool
    extras: list[tuple[str, str]]


def board_deals(member, pipeline: Pipeline, filters: Filters) -> models.QuerySet:
    """The deals of the pipeline the member may read (permission and pipeline access by the selectors),
    narrowed by the board's search box and "only mine", each annotated with whether the member may move it."""
    queryset = selectors.records(member, "deal").filter(pipeline=pipeline)
    if filters.mine:
        queryset = queryset.filter(owner=member)
    if filters.q:
        queryset = search.search_records(queryset, filters.q)
    editable = permissions.scope_q(member, "deal", "edit")
    if editable is None or "stage" in permissions.read_only_fields(member, "deal"):
        can_edit = Value(False)
    elif not editable:
        can_edit = Value(True)
    else:
        can_edit = Case(When(editable, then=Value(True)), default=Value(False))
    return queryset.annotate(can_edit=ExpressionWrapper(can_edit, output_field=models.BooleanField()))


def column_totals(queryset: models.QuerySet, hidden: set[str] = frozenset()) -> dict[int, ColumnTotals]:
    """Count, value and probability-weighted value per stage and currency: one grouped query per board.
    Sums are left out when the member's role may not see deal values (field rules), the weighted sums
    also when it may not see probabilities."""
    weighted = ExpressionWrapper(F("value") * F("probability"), output_field=DecimalField(max_digits=20,
                                                                                          decimal_places=2))
    rows = (queryset.order_by().values("stage_id", "currency")
            .annotate(deals=Count("id"), total=Sum("value"), weighted=Sum(weighted)))
    main_currency = portal_currency()
    totals: dict[int, ColumnTotals] = {}
    for row in rows:
        column = totals.setdefault(row["stage_id"], ColumnTotals())
        total = Total(currency=row["currency"], count=row["deals"], value=row["total"] or Decimal(0),
                      weighted=(row["weighted"] or Decimal(0)) / 100)
        column.count += total.count
        total.show_weighted = "probability" not in hidden
        if "value" in hidden:
            continue
        if total.currency == main_currency:
            column.main = total
        else:
            column.others.append(total)
    for column in totals.values():
        column.others.sort(key=lambda total: total.currency)
    return totals


def first_cards(queryset: models.QuerySet, stages: list[Stage], limits: dict[int, int],
                default: int = PAGE_SIZE) -> list[Deal]:
    """The first cards of every column in ONE query: per stage the first N by (board_position, id), each
    part read from the board index (stage, board_position, id), glued with UNION ALL. Its cost does not
    grow with the number of deals in the pipeline (a window function over all of them would)."""
    slim = queryset.select_related(None).select_related("owner__user", "company", "source")
    parts = [slim.filter(stage_id=stage.pk).order_by("board_position", "id")[:limits.get(stage.pk, default)]
             for stage in stages]
    if not parts:
        return []
    combined = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    by_pk = {stage.pk: stage for stage in stages}
    found = sorted(combined, key=lambda deal: (deal.board_position, deal.pk))
    for deal in found:
        deal.stage = by_pk[deal.stage_id]  # known already: no join, no query
    return found


def _cursor_of(deal: Deal) -> str:
    return f"{deal.board_position!r}:{deal.pk}"


def _after_cursor(queryset: models.QuerySet, cursor: str) -> models.QuerySet:
    try:
        position_text, pk_text = cursor.split(":")
        position, pk = float(position_text), int(pk_text)
    except ValueError:
        raise Http404 from None
    return queryset.filter(Q(board_position__gt=position) | Q(board_position=position, id__gt=pk))


def _model_field_of(card_field: str) -> str:
    return {"stage_age": "stage_changed_at"}.get(card_field, card_field)


def card_fields_of(request: HttpRequest, custom: list) -> list[str]:
    """The fields the cards show: the person's choice (or the usual ones), never a field their role may not see."""
    known = {name for name, _label in _field_choices(request.member, custom)}
    stored = request.COOKIES.get(_cookie_name(request))
    chosen = DEFAULT_CARD_FIELDS if stored is None else stored.split(",")
    return [name for name in chosen if name in known]


def show_service_errors(form, error: ValidationError) -> None:
    """The services' errors on the form fields they name (custom fields as "custom.<code>"); the rest
    above the form, without the field's code in front."""
    found = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
    for name, texts in found.items():
        target = f"{CUSTOM_PREFIX}{name.removeprefix('custom.')}" if name.startswith("custom.") else name
        for text in texts:
            form.add_error(target if target in form.fields else None, text)


def _cookie_name(request: HttpRequest) -> str:
    return f"{CARD_FIELDS_COOKIE}_{getattr(request.member, 'pk', 0)}"


def _custom_text(definition, value) -> str:
    if value in (None, "", []):
        return ""
    if definition.field_type == FieldType.BOOLEAN:
        return _("yes") if value else _("no")
    if definition.field_type == FieldType.MONEY:
        return format_money(Decimal(str(value)), portal_currency())
    if definition.field_type == FieldType.DATE:
        try:
            return _short_date(datetime.date.fromisoformat(str(value)), timezone.localdate())
        except ValueError:
            return str(value)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def make_cards(deals_: list[Deal], fields: list[str], custom: list) -> list[Card]:
    today = timezone.localdate()
    now = timezone.now()
    custom_by_name = {f"custom.{definition.code}": definition for definition in custom}
    cards = []
    for deal in deals_:
        owner_name = str(deal.owner) if deal.owner_id else ""
        extras: list[tuple[str, str]] = []
        for name in fields:
            if name == "probability":
                extras.append((_("Probability"), f"{deal.probability}%"))
            elif name == "source" and deal.source_id:
                extras.append((_("Source"), str(deal.source)))
            elif name == "contacts":
                names = ", ".join(str(contact) for contact in deal.contacts.all())
                if names:
                    extras.append((_("Contacts"), names))
            elif name == "stage_age" and deal.stage_changed_at:
                days = (now - deal.stage_changed_at).days
                extras.append((_("In this stage"), _("%(days)d d") % {"days": days}))
            elif name == "tags" and deal.tags:
                extras.append((_("Tags"), ", ".join(deal.tags)))
            elif name in custom_by_name:
                text = _custom_text(custom_by_name[name], (deal.custom or {}).get(name.removeprefix("custom.")))
                if text:
                    extras.append((custom_by_name[name].label, text))
        close = deal.expected_close_date
        cards.append(Card(
            deal=deal, can_edit=bool(getattr(deal, "can_edit", False)),
            value_text=format_money(deal.value, deal.currency), owner_name=owner_name,
            initials=_initials(owner_name), hue=_hue(deal.owner_id or 0),
            close_text=_short_date(close, today) if close else "",
            overdue=bool(close and close < today and deal.stage.kind == StageKind.OPEN), extras=extras))
    return cards


def _with_card_relations(deals_: list[Deal], fields: list[str]) -> list[Deal]:
    if "contacts" in fields:
        prefetch_related_objects(deals_, "contacts")
    return deals_


# --- pages ------------------------------------------------------------------------------------------------------

def _require_deals(member) -> None:
    permissions.require(member, "deal", "read", creating=True)


def _pipeline_for(member, pipeline_id: int | None) -> tuple[Pipeline | None, list[Pipeline]]:
    pipelines = list(deals.pipelines_for(member).order_by("position", "id"))
    if pipeline_id is None:
        chosen = next((pipeline for pipeline in pipelines if pipeline.is_default), pipelines[0] if pipelines else None)
        return chosen, pipelines
    chosen = next((pipeline for pipeline in pipelines if pipeline.pk == pipeline_id), None)
    if chosen is None:
        raise Http404(_("No such pipeline, or you may not work in it."))
    return chosen, pipelines


def _stages(pipeline: Pipeline) -> list[Stage]:
    return list(Stage.objects.filter(pipeline=pipeline).order_by("position", "id"))


def _board_url(pipeline: Pipeline, filters: Filters) -> str:
    url = reverse("deals:board-pipeline", args=[pipeline.pk])
    query = filters.query()
    return f"{url}?{query}" if query else url


def _limits(request: HttpRequest) -> dict[int, int]:
    """Without JavaScript "Load more" is a link that shows more cards of one column."""
    column, limit = request.GET.get("column", ""), request.GET.get("limit", "")
    if column.isdigit() and limit.isdigit():
        return {int(column): max(PAGE_SIZE, min(int(limit), MAX_LIMIT))}
    return {}


@login_required
def board(request: HttpRequest, pipeline_id: int | None = None) -> HttpResponse:
    member = request.member
    _require_deals(member)
    pipeline, pipelines = _pipeline_for(member, pipeline_id)
    filters = Filters.of(request.GET)
    if pipeline is None:
        return render(request, "deals/board.html", {"pipeline": None, "pipelines": pipelines, "filters": filters})
    stages = _stages(pipeline)
    custom = definitions("deal")
    fields = card_fields_of(request, custom)
    queryset = board_deals(member, pipeline, filters)
    totals = column_totals(queryset, permissions.hidden_fields(member, "deal"))
    limits = _limits(request)
    by_stage: dict[int, list[Deal]] = {}
    for deal in _with_card_relations(first_cards(queryset, stages, limits), fields):
        by_stage.setdefault(deal.stage_id, []).append(deal)
    columns = []
    for stage in stages:
        shown = by_stage.get(stage.pk, [])
        columns.append(Column(stage=stage, colour=stage_colour(stage), totals=totals.get(stage.pk, ColumnTotals()),
                              cards=make_cards(shown, fields, custom),
                              cursor=_cursor_of(shown[-1]) if shown else ""))
    summary = _summary(columns, permissions.hidden_fields(member, "deal"))
    return render(request, "deals/board.html", {
        "pipeline": pipeline, "pipelines": pipelines, "columns": columns, "stages": stages, "filters": filters,
        "fields": fields, "field_choices": _field_choices(member, custom), "summary": summary,
        "next": _board_url(pipeline, filters), "page_size": PAGE_SIZE,
        "can_create": permissions.can(member, "deal", "create", creating=True)})


def _field_choices(member, custom: list) -> list[tuple[str, str]]:
    hidden = permissions.hidden_fields(member, "deal")
    choices = [(name, str(label)) for name, label in CARD_FIELDS] + [
        (f"custom.{definition.code}", definition.label) for definition in custom]
    return [(name, label) for name, label in choices if _model_field_of(name) not in hidden]


def _summary(columns: list[Column], hidden: set[str]) -> dict:
    """The open part of the pipeline in the portal currency (the head of the page)."""
    count, value, weighted = 0, Decimal(0), Decimal(0)
    for column in columns:
        if column.is_closed:
            continue
        count += column.totals.count
        if column.totals.main:
            value += column.totals.main.value
            weighted += column.totals.main.weighted
    currency = portal_currency()
    return {"count": count,
            "value": format_money(value, currency) if "value" not in hidden else "",
            "weighted": format_money(weighted, currency) if not {"value", "probability"} & hidden else ""}


@login_required
def column_page(request: HttpRequest, pipeline_id: int, stage_id: int) -> HttpResponse:
    """"Load more": the next cards of one column after the cursor (htmx appends them)."""
    member = request.member
    _require_deals(member)
    pipeline, _pipelines = _pipeline_for(member, pipeline_id)
    stage = Stage.objects.filter(pipeline=pipeline, pk=stage_id).first()
    if stage is None:
        raise Http404
    filters = Filters.of(request.GET)
    custom = definitions("deal")
    fields = card_fields_of(request, custom)
    queryset = board_deals(member, pipeline, filters).filter(stage=stage)
    rest = _after_cursor(queryset, request.GET.get("cursor", ""))
    page = _with_card_relations(list(rest.order_by("board_position", "id")[:PAGE_SIZE + 1]), fields)
    shown = page[:PAGE_SIZE]
    remaining = rest.count() - len(shown) if len(page) > PAGE_SIZE else 0
    column = Column(stage=stage, colour=stage_colour(stage), totals=ColumnTotals(count=len(shown) + remaining),
                    cards=make_cards(shown, fields, custom), cursor=_cursor_of(shown[-1]) if shown else "")
    if not request.htmx:
        return redirect(f"{_board_url(pipeline, filters)}{'&' if filters.query() else '?'}"
                        f"column={stage.pk}&limit={MAX_LIMIT}")
    return render(request, "deals/_cards_page.html", {
        "column": column, "pipeline": pipeline, "filters": filters, "fields": fields,
        "next": _board_url(pipeline, filters)})


# --- moving a card ----------------------------------------------------------------------------------------------

def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
        return target
    return fallback


def _top_of_column(stage: Stage) -> Deal:
    """A stand-in "card above" that sits before the first card: ``move_deal`` then puts the deal first
    (it places a deal between ``after`` and the card that follows it)."""
    lowest = Deal.objects.filter(stage=stage).aggregate(Min("board_position"))["board_position__min"] or 0
    return Deal(stage_id=stage.pk, board_position=lowest - 2048)


def _neighbour_move(queryset: models.QuerySet, deal: Deal, direction: str) -> tuple[bool, Deal | None]:
    """Where "up" or "down" puts the deal among the cards the member sees: (possible, card above or None = top)."""
    column = queryset.filter(stage_id=deal.stage_id)
    pos, pk = deal.board_position, deal.pk
    if direction == "up":
        above = list(column.filter(Q(board_position__lt=pos) | Q(board_position=pos, id__lt=pk))
                     .order_by("-board_position", "-id")[:2])
        if not above:
            return False, None
        return True, above[1] if len(above) > 1 else None
    below = column.filter(Q(board_position__gt=pos) | Q(board_position=pos, id__gt=pk)).order_by(
        "board_position", "id").first()
    return (below is not None), below


def _asked_form(member, names: list[str], data=None):
    form_class = record_form_class("deal", only=names, actor=member)
    return form_class(data, prefix="f") if data is not None else form_class(prefix="f")


def _values_of(form) -> dict:
    """What the member filled in; fields their role may not change are shown disabled and never sent on."""
    for name, formfield in form.fields.items():
        if formfield.disabled:
            form.cleaned_data.pop(name, None)
    values = values_from_form(form)
    if "contacts" in values and not isinstance(values["contacts"], list):
        values["contacts"] = [values["contacts"]] if values["contacts"] else []
    return values


@dataclass
class MoveRequest:
    deal: Deal
    stage: Stage
    after: Deal | None  # a card of the target column, or None for the top
    direction: str = ""
    noop: bool = False  # "up" on the first card, "down" on the last


def _move_request(request: HttpRequest, member, deal: Deal, queryset) -> MoveRequest | str:
    """What the POST asks for, or the reason it cannot be done (shown to the user)."""
    direction = request.POST.get("direction", "")
    if direction in ("up", "down"):
        possible, after = _neighbour_move(queryset, deal, direction)
        return MoveRequest(deal=deal, stage=deal.stage, after=after, direction=direction, noop=not possible)
    stage_id = request.POST.get("stage", "")
    stage = (Stage.objects.select_related("pipeline").filter(pk=stage_id, pipeline__in=deals.pipelines_for(member))
             .first() if stage_id.isdigit() else None)
    if stage is None:
        return _("Choose a stage of a pipeline you work in.")
    after_id = request.POST.get("after", "")
    after = queryset.filter(pk=after_id, stage=stage).exclude(pk=deal.pk).first() if after_id.isdigit() else None
    return MoveRequest(deal=deal, stage=stage, after=after)


def _message_response(request: HttpRequest, message: str, *, deal: Deal | None, status: int) -> HttpResponse:
    if request.htmx:
        response = render(request, "deals/_message_dialog.html", {"message": message, "deal": deal})
        response["HX-Trigger"] = json.dumps({"deals:refused": {"deal": deal.pk if deal else None}})
        return response
    messages.error(request, message)
    return redirect(_safe_next(request, reverse("deals:board")))


def _move_form_context(request: HttpRequest, move: MoveRequest, stages: list[Stage], *, form=None,
                       asked: list[str] | None = None, error: str = "") -> dict:
    return {"deal": move.deal, "stage": move.stage, "stages": stages, "form": form, "asked": asked or [],
            "after": move.after.pk if move.after is not None and move.after.pk else "", "error": error,
            "next": _safe_next(request, reverse("deals:board-pipeline", args=[move.deal.pipeline_id])),
            "filters": Filters.of(request.POST if request.method == "POST" else request.GET)}


def _ask_response(request: HttpRequest, context: dict, *, status: int = 200) -> HttpResponse:
    if request.htmx:
        response = render(request, "deals/_move_dialog.html", context)
        response["HX-Trigger"] = json.dumps({"deals:refused": {"deal": context["deal"].pk}})
        return response
    return render(request, "deals/move_page.html", context, status=status)


def _moved_response(request: HttpRequest, member, move: MoveRequest, moved: Deal) -> HttpResponse:
    after_id = move.after.pk if move.after is not None and move.after.pk else None
    if not request.htmx:
        if not move.noop:
            messages.success(request, _("“%(deal)s” is now in “%(stage)s”.") % {"deal": moved.title,
                                                                                "stage": move.stage.name})
        return redirect(_safe_next(request, reverse("deals:board-pipeline", args=[moved.pipeline_id])))
    filters = Filters.of(request.POST)
    pipeline = move.stage.pipeline
    custom = definitions("deal")
    fields = card_fields_of(request, custom)
    queryset = board_deals(member, pipeline, filters)
    totals = column_totals(queryset, permissions.hidden_fields(member, "deal"))
    stages = _stages(pipeline)
    columns = [Column(stage=stage, colour=stage_colour(stage), totals=totals.get(stage.pk, ColumnTotals()))
               for stage in stages]
    fresh = _with_card_relations(list(queryset.filter(pk=moved.pk)), fields)
    # The page head sums the open columns: a card moved to won/lost changes it too.
    summary = _summary(columns, permissions.hidden_fields(member, "deal"))
    context = {"columns": columns, "summary": summary,
               "card": make_cards(fresh, fields, custom)[0] if fresh else None,
               "pipeline": pipeline, "fields": fields, "next": _safe_next(request, _board_url(pipeline, filters))}
    trigger = {} if move.noop else {"deals:moved": {"deal": moved.pk, "stage": move.stage.pk, "after": after_id}}
    if move.direction:
        # Up and down keep the dialog open, so the card can go several places in a row.
        context |= _move_form_context(request, MoveRequest(deal=moved, stage=move.stage, after=None), stages)
        context["focus"] = move.direction
        response = render(request, "deals/_moved.html", context | {"reopen": True})
    else:
        trigger["kompas:saved"] = True
        response = render(request, "deals/_moved.html", context)
    if trigger:
        response["HX-Trigger"] = json.dumps(trigger)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def move(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the "Move" form of a card (a dialog, or a page without JavaScript). POST: move it, asking for
    what the target stage requires."""
    member = request.member
    _require_deals(member)
    deal = selectors.record_for(member, "deal", pk)
    queryset = board_deals(member, deal.pipeline, Filters.of(request.POST))
    stages = _stages(deal.pipeline)
    if request.method == "GET":
        context = _move_form_context(request, MoveRequest(deal=deal, stage=deal.stage, after=None), stages)
        return render(request, "deals/_move_dialog.html" if request.htmx else "deals/move_page.html", context)
    asked = [name for name in request.POST.getlist("asked") if name]
    wanted = _move_request(request, member, deal, queryset)
    if isinstance(wanted, str):
        return _message_response(request, wanted, deal=deal, status=400)
    if wanted.noop:
        return _moved_response(request, member, wanted, deal)
    after = wanted.after
    if after is None and wanted.stage.pk == deal.stage_id:
        after = _top_of_column(wanted.stage)
    values, form = {}, None
    if asked:
        try:
            form = _asked_form(member, asked, request.POST)
        except (LookupError, models.FieldDoesNotExist):
            return _message_response(request, _("The form was out of date; try the move again."), deal=deal,
                                     status=400)
        if not form.is_valid():
            return _ask_response(request, _move_form_context(request, wanted, stages, form=form, asked=asked),
                                 status=400)
        values = _values_of(form)
    try:
        with transaction.atomic():
            if values.get("custom"):
                # crm.core.services hands prepare_deal the values without "custom", so a stage requiring a
                # custom field would not see it in the same step: write it first, in the same transaction.
                deal = update_record(actor=member, record=deal, values={"custom": values.pop("custom")})
            moved = deals.move_deal(actor=member, deal=deal, stage=wanted.stage, values=values, after=after)
    except deals.StageRequirementsError as error:
        names = [name for name, _label in error.missing]
        names = [*asked, *[name for name in names if name not in asked]] if asked else names
        form = _asked_form(member, names, request.POST if asked else None)
        if asked:
            form.is_valid()
            show_service_errors(form, error)
        context = _move_form_context(request, wanted, stages, form=form, asked=names)
        return _ask_response(request, context, status=400 if asked else 200)
    except PermissionDenied as refused:
        return _message_response(request, str(refused) or _("You may not move this deal."), deal=deal, status=403)
    except ValidationError as error:
        if form is not None:
            show_service_errors(form, error)
            return _ask_response(request, _move_form_context(request, wanted, stages, form=form, asked=asked),
                                 status=400)
        return _message_response(request, " ".join(error.messages), deal=deal, status=400)
    return _moved_response(request, member, wanted, moved)


# --- card fields ------------------------------------------------------------------------------------------------

@login_required
@require_POST
def card_fields(request: HttpRequest) -> HttpResponse:
    """Which fields the cards show, kept per person in this browser (a cookie the server reads, so the
    board renders the same with or without JavaScript)."""
    _require_deals(request.member)
    custom = definitions("deal")
    known = [name for name, _label in _field_choices(request.member, custom)]
    chosen = [name for name in known if name in request.POST.getlist("fields")]
    response = redirect(_safe_next(request, reverse("deals:board")))
    response.set_cookie(_cookie_name(request), ",".join(chosen), max_age=365 * 24 * 3600, samesite="Lax",
                        secure=request.is_secure(), httponly=True)
    return response


# --- a new deal from the board ----------------------------------------------------------------------------------

NEW_DEAL_FIELDS = ["title", "value", "currency", "company", "expected_close_date"]


@login_required
@require_http_methods(["GET", "POST"])
def new_deal(request: HttpRequest, pipeline_id: int) -> HttpResponse:
    """A quick deal (name, value, company, stage), the board's main action."""
    member = request.member
    permissions.require(member, "deal", "create", creating=True)
    pipeline, _pipelines = _pipeline_for(member, pipeline_id)
    stages = [stage for stage in _stages(pipeline) if stage.kind == StageKind.OPEN] or _stages(pipeline)
    form_class = record_form_class("deal", only=NEW_DEAL_FIELDS, with_custom=False, actor=member)
    chosen = request.POST.get("stage") or request.GET.get("stage") or ""
    stage = next((stage for stage in stages if str(stage.pk) == chosen), stages[0] if stages else None)
    form = form_class(request.POST if request.method == "POST" else None, prefix="f",
                      initial={"currency": portal_currency()})
    currencies = [portal_currency(), *[code for code in CURRENCIES if code != portal_currency()]]
    if "currency" in form.fields:
        form.fields["currency"].widget = forms.Select(choices=[(code, code) for code in currencies])
    next_url = _safe_next(request, reverse("deals:board-pipeline", args=[pipeline.pk]))
    if request.method == "POST" and form.is_valid():
        values = _values_of(form) | {"pipeline": pipeline.pk, "stage": stage.pk if stage else None}
        try:
            deal = create_record(actor=member, code="deal", values=values)
        except deals.StageRequirementsError as error:
            show_service_errors(form, error)
        except PermissionDenied as refused:
            form.add_error(None, str(refused))
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            messages.success(request, _("The deal “%(deal)s” was added to “%(stage)s”.")
                             % {"deal": deal.title, "stage": deal.stage.name})
            if request.htmx:
                response = HttpResponse(status=204)
                response["HX-Redirect"] = next_url
                return response
            return redirect(next_url)
    context = {"form": form, "pipeline": pipeline, "stages": stages, "stage": stage, "next": next_url}
    status = 400 if request.method == "POST" else 200
    if request.htmx:
        return render(request, "deals/_new_deal_form.html", context, status=200)
    return render(request, "deals/new_deal_page.html", context, status=status)

