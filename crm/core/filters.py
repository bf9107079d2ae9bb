"""The one filter language of the CRM: saved views, the REST API (``?filter=<json>``) and the list
pages all compile their conditions here, so a filter means the same thing everywhere.

A filter is a JSON tree::

    {"and": [node, …]}  {"or": [node, …]}  {"not": node}          groups, nestable
    {"field": "last_name", "op": "contains", "value": "Kow"}       a condition

``field`` is a column of the record (``last_name``, ``value``, ``owner`` — relations by id),
``tags``, ``emails`` / ``phones`` or a custom field as ``custom.<code>``. Which operators a field
takes depends on its type (``OPERATORS``); ``filterable_fields`` describes them for the UI and
the API docs. Every value is checked and every mistake raises ``FilterError`` naming the field.
Values only ever reach SQL as query parameters.

Dates take ``"YYYY-MM-DD"`` or ``{"relative": "today"}`` (see ``RELATIVE_DATES``); date and time
fields also take an ISO date and time, and a plain date there means the whole day in the portal's
time zone. Relations to people (``owner``, a custom "user" field, …) take ``"me"``: the acting
member.
"""

from __future__ import annotations

import datetime
import functools
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, F, Func, OuterRef, Q, Value
from django.db.models import lookups as L
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core.contact_points import normalise_phone
from crm.core.models import CustomField, FieldType
from crm.core.registry import record_type
from identity.members.models import Membership
from identity.members.permissions import hidden_fields

CUSTOM_PREFIX = "custom."
MAX_DEPTH = 8
MAX_CONDITIONS = 100
MAX_LIST = 500
MAX_TEXT = 500

# Columns that are bookkeeping, not something to filter a list by.
HIDDEN_FIELDS = frozenset({"deleted_at", "deleted_by", "search_text", "custom", "board_position"})


class Kind:
    """What a field is, as far as filtering goes; the ``type`` of ``FieldInfo``."""

    TEXT = "text"
    PHONE = "phone"  # one phone number (a custom field): compared by its digits
    CHOICE = "choice"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    RELATION = "relation"  # a foreign key, by id
    RELATIONS = "relations"  # many-to-many, by ids
    TAGS = "tags"
    MULTISELECT = "multiselect"
    EMAILS = "emails"  # a list of {"value", "kind"} e-mail addresses
    PHONES = "phones"  # a list of {"value", "kind"} E.164 phone numbers


_EMPTY = ("is_empty", "is_not_empty")
OPERATORS: dict[str, tuple[str, ...]] = {
    Kind.TEXT: ("eq", "ne", "contains", "not_contains", "starts_with", "in", "not_in", *_EMPTY),
    Kind.PHONE: ("eq", "ne", "contains", "not_contains", *_EMPTY),
    Kind.CHOICE: ("eq", "ne", "in", "not_in", *_EMPTY),
    Kind.NUMBER: ("eq", "ne", "gt", "gte", "lt", "lte", "between", "in", "not_in", *_EMPTY),
    Kind.DATE: ("eq", "ne", "gt", "gte", "lt", "lte", "between", *_EMPTY),
    Kind.DATETIME: ("eq", "ne", "gt", "gte", "lt", "lte", "between", *_EMPTY),
    Kind.BOOLEAN: ("eq", "ne"),
    Kind.RELATION: ("eq", "ne", "in", "not_in", *_EMPTY),
    Kind.RELATIONS: ("has", "has_any", "has_all", *_EMPTY),
    Kind.TAGS: ("has", "has_any", "has_all", *_EMPTY),
    Kind.MULTISELECT: ("has", "has_any", "has_all", *_EMPTY),
    Kind.EMAILS: ("eq", "contains", "not_contains", *_EMPTY),
    Kind.PHONES: ("eq", "contains", "not_contains", *_EMPTY),
}
SORTABLE = frozenset({Kind.TEXT, Kind.PHONE, Kind.CHOICE, Kind.NUMBER, Kind.DATE, Kind.DATETIME, Kind.BOOLEAN,
                      Kind.RELATION})

CUSTOM_KINDS = {
    FieldType.TEXT: Kind.TEXT, FieldType.LONG_TEXT: Kind.TEXT, FieldType.URL: Kind.TEXT, FieldType.EMAIL: Kind.TEXT,
    FieldType.PHONE: Kind.PHONE, FieldType.NUMBER: Kind.NUMBER, FieldType.MONEY: Kind.NUMBER,
    FieldType.DATE: Kind.DATE, FieldType.DATETIME: Kind.DATETIME, FieldType.SELECT: Kind.CHOICE,
    FieldType.MULTISELECT: Kind.MULTISELECT, FieldType.BOOLEAN: Kind.BOOLEAN, FieldType.USER: Kind.RELATION,
}

RELATIVE_DATES = ("today", "yesterday", "tomorrow", "this_week", "last_week", "next_week", "this_month",
                  "last_month", "next_month", "this_year", "last_7_days", "last_30_days", "next_7_days",
                  "next_30_days", "overdue")


class FilterError(ValidationError):
    """A filter or sort order that cannot be used; the message names the field and the reason."""

    def __init__(self, field: str | None, reason: str, *, sorting: bool = False) -> None:
        self.field, self.reason = field, reason
        if field is None:
            message = _("Filter: %(reason)s") % {"reason": reason}
        elif sorting:
            message = _("Sorting by “%(field)s”: %(reason)s") % {"field": field, "reason": reason}
        else:
            message = _("Filter on “%(field)s”: %(reason)s") % {"field": field, "reason": reason}
        super().__init__(message, code="invalid_filter")


@dataclass(frozen=True)
class FieldInfo:
    """A field as the UI and the API docs describe it."""

    name: str  # as written in filters, columns and sort orders: "last_name", "custom.budget"
    label: str
    type: str  # a Kind
    operators: tuple[str, ...]
    choices: tuple[tuple[str, str], ...] | None = None  # (value, label) for choices and custom lists
    sortable: bool = True
    custom_type: str | None = None  # the FieldType of a custom field
    relation: str | None = None  # "app_label.Model" a relation points at, for pickers
    nullable: bool = False

    def as_dict(self) -> dict:
        return {"name": self.name, "label": str(self.label), "type": self.type, "operators": list(self.operators),
                "choices": [[value, str(label)] for value, label in self.choices] if self.choices else None,
                "sortable": self.sortable, "custom_type": self.custom_type, "relation": self.relation}


# ---------------------------------------------------------------------------------------------
# SQL helpers. Compiled SQL of our own expressions is spliced together; user values are params.


class SearchFold(Func):
    """Lower-cased and unaccented (``Łódź`` → ``lodz``), the way the search document is."""

    function = "public.kompas_unaccent"
    output_field = models.TextField()

    def __init__(self, expression, **extra) -> None:
        super().__init__(Lower(expression), **extra)


class _GuardedCast(Func):
    """``CASE WHEN text ~ pattern THEN cast(text) END``: a custom field's JSON value as a number or a
    date, NULL when the stored text does not look like one (a list never fails because of one row)."""

    pattern = ""
    cast = ""

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.get_source_expressions()[0])
        cast = self.cast.replace("{}", sql)
        return f"(CASE WHEN {sql} ~ %s THEN {cast} END)", (*params, self.pattern, *params)


class AsNumber(_GuardedCast):
    pattern = r"^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
    cast = "({})::numeric"
    output_field = models.DecimalField()


class AsDate(_GuardedCast):
    pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    cast = "left({}, 10)::date"
    output_field = models.DateField()


class AsTimestamp(_GuardedCast):
    pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}.*)?$"
    cast = "({})::timestamptz"
    output_field = models.DateTimeField()


class AnyItemValueLike(Func):
    """Whether some item of a JSON list of ``{"value": …}`` has a value matching an ILIKE pattern."""

    output_field = models.BooleanField()

    template = ("EXISTS (SELECT 1 FROM jsonb_path_query(%(column)s, '$[*].value') AS kompas_item(doc) "
                "WHERE kompas_item.doc #>> '{}' ILIKE %(pattern)s)")

    def as_sql(self, compiler, connection, **extra):
        (column, column_params), (pattern, pattern_params) = map(compiler.compile, self.get_source_expressions())
        return self.template % {"column": column, "pattern": pattern}, (*column_params, *pattern_params)


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


# ---------------------------------------------------------------------------------------------
# Fields


@dataclass(frozen=True)
class _Spec:
    info: FieldInfo
    model_field: models.Field | None = None
    custom: CustomField | None = None

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def kind(self) -> str:
        return self.info.type

    @property
    def members(self) -> bool:
        """A relation to people of the portal: takes "me"."""
        if self.custom is not None:
            return self.custom.field_type == FieldType.USER
        return self.model_field is not None and self.model_field.related_model is Membership

    @property
    def target(self):
        """The expression conditions compare (the column, or the custom field's JSON value cast by type)."""
        if self.custom is None:
            return F(self.name)
        text = KeyTextTransform(self.custom.code, "custom")
        cast = {Kind.NUMBER: AsNumber, Kind.RELATION: AsNumber, Kind.DATE: AsDate, Kind.DATETIME: AsTimestamp}
        return cast[self.kind](text) if self.kind in cast else text


def _kind_of(field: models.Field) -> str | None:
    if isinstance(field, models.GeneratedField):
        return None
    if isinstance(field, models.ManyToManyField):
        return Kind.RELATIONS
    if isinstance(field, models.ForeignKey):
        return Kind.RELATION
    if isinstance(field, ArrayField):
        return Kind.TAGS
    if isinstance(field, models.JSONField):
        return {"emails": Kind.EMAILS, "phones": Kind.PHONES}.get(field.name)
    if isinstance(field, models.BooleanField):
        return Kind.BOOLEAN
    if field.choices:
        return Kind.CHOICE
    if isinstance(field, models.DateTimeField):
        return Kind.DATETIME
    if isinstance(field, models.DateField):
        return Kind.DATE
    if isinstance(field, models.IntegerField | models.DecimalField | models.FloatField):
        return Kind.NUMBER
    if isinstance(field, models.CharField | models.TextField):
        return Kind.TEXT
    return None


@functools.cache
def _model_specs(model: type[models.Model]) -> dict[str, _Spec]:
    meta = model._meta
    specs = {}
    for field in [*meta.concrete_fields, *meta.many_to_many]:
        kind = _kind_of(field)
        if kind is None or field.name in HIDDEN_FIELDS:
            continue
        label = gettext_lazy("ID") if field.primary_key else field.verbose_name
        choices = tuple(field.flatchoices) if kind == Kind.CHOICE else None
        related = field.related_model._meta.label if field.is_relation else None
        nullable = field.null or kind == Kind.RELATIONS
        specs[field.name] = _Spec(FieldInfo(
            name=field.name, label=label, type=kind, operators=OPERATORS[kind], choices=choices,
            sortable=kind in SORTABLE, relation=related, nullable=nullable), model_field=field)
    return specs


def _custom_spec(field: CustomField) -> _Spec:
    kind = CUSTOM_KINDS[field.field_type]
    operators = OPERATORS[kind] + (_EMPTY if kind == Kind.BOOLEAN else ())
    choices = tuple((option, option) for option in field.options) if kind in (Kind.CHOICE, Kind.MULTISELECT) else None
    return _Spec(FieldInfo(
        name=CUSTOM_PREFIX + field.code, label=field.label, type=kind, operators=operators, choices=choices,
        sortable=kind in SORTABLE, custom_type=field.field_type,
        relation=Membership._meta.label if kind == Kind.RELATION else None, nullable=True), custom=field)


class _Fields:
    """The fields of one record type; custom fields are read from the portal's schema once, when needed."""

    def __init__(self, code: str, *, sorting: bool = False, actor=None) -> None:
        self.rt = record_type(code)
        self.sorting = sorting
        self.model = _model_specs(self.rt.model)
        self._custom: dict[str, CustomField] | None = None
        # Fields the actor's role may not see cannot be filtered or sorted by either: a filter on a
        # hidden value would reveal it record by record. They look like fields that do not exist.
        self.hidden = hidden_fields(actor, code) if actor is not None else set()

    @property
    def custom(self) -> dict[str, CustomField]:
        if self._custom is None:
            self._custom = {field.code: field for field in CustomField.objects.filter(entity=self.rt.code)}
        return self._custom

    def resolve(self, name) -> _Spec:
        if not isinstance(name, str) or not name:
            raise FilterError(None, _("every condition needs a “field”."), sorting=self.sorting)
        if name in self.hidden:
            raise FilterError(name, _("there is no such field."), sorting=self.sorting)
        if name.startswith(CUSTOM_PREFIX):
            field = self.custom.get(name.removeprefix(CUSTOM_PREFIX))
            if field is not None and field.field_type in CUSTOM_KINDS:
                return _custom_spec(field)
        elif name in self.model:
            return self.model[name]
        raise FilterError(name, _("there is no such field."), sorting=self.sorting)


def filterable_fields(code: str, *, actor=None) -> list[FieldInfo]:
    """The fields of a record type a filter, a column or a sort order may name, with their operators
    (without those the actor's role may not see)."""
    fields = _Fields(code, actor=actor)
    infos = [spec.info for spec in fields.model.values()]
    infos += [_custom_spec(field).info for field in fields.custom.values()
              if field.is_active and field.field_type in CUSTOM_KINDS]
    return [info for info in infos if info.name not in fields.hidden]


def field_info(code: str, name: str) -> FieldInfo:
    """One field by the name filters use; FilterError when the record type has no such field."""
    return _Fields(code).resolve(name).info


# ---------------------------------------------------------------------------------------------
# Values


def _local_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _relative_days(name: str, today: datetime.date) -> tuple[datetime.date | None, datetime.date | None]:
    """The first and last day (inclusive) a relative date means; None for an open end."""
    day = datetime.timedelta(days=1)
    monday = today - datetime.timedelta(days=today.weekday())
    first = today.replace(day=1)
    next_first = (first + datetime.timedelta(days=32)).replace(day=1)
    last_first = (first - day).replace(day=1)
    return {
        "today": (today, today),
        "yesterday": (today - day, today - day),
        "tomorrow": (today + day, today + day),
        "this_week": (monday, monday + 6 * day),
        "last_week": (monday - 7 * day, monday - day),
        "next_week": (monday + 7 * day, monday + 13 * day),
        "this_month": (first, next_first - day),
        "last_month": (last_first, first - day),
        "next_month": (next_first, (next_first + datetime.timedelta(days=32)).replace(day=1) - day),
        "this_year": (today.replace(month=1, day=1), today.replace(month=12, day=31)),
        "last_7_days": (today - 6 * day, today),
        "last_30_days": (today - 29 * day, today),
        "next_7_days": (today, today + 6 * day),
        "next_30_days": (today, today + 29 * day),
        "overdue": (None, today - day),
    }[name]


class _Conditions:
    """Compiles one filter tree for one record type and one acting member."""

    def __init__(self, code: str, actor) -> None:
        self.fields = _Fields(code, actor=actor)
        self.actor = actor
        self.count = 0

    # -- groups ---------------------------------------------------------------------------------

    def node(self, tree, depth: int) -> Q:
        if not isinstance(tree, dict):
            raise FilterError(None, _("each condition must be an object."))
        if depth > MAX_DEPTH:
            raise FilterError(None, _("groups may be nested at most %(depth)d deep.") % {"depth": MAX_DEPTH})
        groups = {"and", "or", "not"} & tree.keys()
        if not groups:
            return self.leaf(tree)
        if len(tree) != 1:
            raise FilterError(None, _("a group has exactly one key: “and”, “or” or “not”."))
        key = next(iter(groups))
        if key == "not":
            return ~self.node(tree["not"], depth + 1)
        children = tree[key]
        if not isinstance(children, list):
            raise FilterError(None, _("“%(key)s” takes a list of conditions.") % {"key": key})
        combined = Q()
        for child in children:
            condition = self.node(child, depth + 1)
            combined = combined & condition if key == "and" else combined | condition
        return combined

    def leaf(self, tree: dict) -> Q:
        self.count += 1
        if self.count > MAX_CONDITIONS:
            raise FilterError(None, _("a filter may have at most %(count)d conditions.") % {"count": MAX_CONDITIONS})
        unknown = set(tree) - {"field", "op", "value"}
        if unknown:
            raise FilterError(tree.get("field") if isinstance(tree.get("field"), str) else None,
                              _("unknown keys: %(keys)s.") % {"keys": ", ".join(sorted(map(str, unknown)))})
        spec = self.fields.resolve(tree.get("field"))
        op = tree.get("op")
        if op not in spec.info.operators:
            raise FilterError(spec.name, _("the operator “%(op)s” cannot be used here; use one of: %(ops)s.")
                              % {"op": op, "ops": ", ".join(spec.info.operators)})
        if op in _EMPTY:
            empty = self.empty(spec)
            return empty if op == "is_empty" else ~empty
        if "value" not in tree:
            raise FilterError(spec.name, _("the operator “%(op)s” needs a value.") % {"op": op})
        return self.condition(spec, op, tree["value"])

    # -- values ---------------------------------------------------------------------------------

    def values(self, spec: _Spec, value, clean) -> list:
        if not isinstance(value, list) or not value:
            raise FilterError(spec.name, _("give a non-empty list of values."))
        if len(value) > MAX_LIST:
            raise FilterError(spec.name, _("give at most %(count)d values.") % {"count": MAX_LIST})
        return list(dict.fromkeys(clean(spec, item) for item in value))

    def text(self, spec: _Spec, value) -> str:
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise FilterError(spec.name, _("give text."))
        if len(value) > MAX_TEXT:
            raise FilterError(spec.name, _("the text is longer than %(count)d characters.") % {"count": MAX_TEXT})
        return value

    def number(self, spec: _Spec, value) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise FilterError(spec.name, _("give a number."))
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise FilterError(spec.name, _("give a number.")) from None
        if not number.is_finite():
            raise FilterError(spec.name, _("give a number."))
        return number

    def choice(self, spec: _Spec, value) -> str:
        allowed = [choice for choice, _label in spec.info.choices or ()]
        if not isinstance(value, str) or value not in allowed:
            raise FilterError(spec.name, _("“%(value)s” is not one of the options: %(options)s.")
                              % {"value": value, "options": ", ".join(allowed)})
        return value

    def boolean(self, spec: _Spec, value) -> bool:
        if not isinstance(value, bool):
            raise FilterError(spec.name, _("give true or false."))
        return value

    def identifier(self, spec: _Spec, value) -> int:
        if value == "me" and spec.members:
            if not isinstance(self.actor, Membership):
                raise FilterError(spec.name, _("“me” means the signed-in person, and there is none here."))
            return self.actor.pk
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            if spec.members:
                raise FilterError(spec.name, _("give the id of a person, or “me”."))
            raise FilterError(spec.name, _("give the id of a record."))
        return value

    def tag(self, spec: _Spec, value) -> str:
        if spec.kind == Kind.MULTISELECT:
            return self.choice(spec, value)
        if not isinstance(value, str) or not value.strip():
            raise FilterError(spec.name, _("give a tag."))
        return value.strip()

    def span(self, spec: _Spec, value) -> tuple:
        """A date value as the half-open range [from, to) it covers, in the field's own terms: dates
        for a date field, aware date-times for a date-and-time field. None is an open end."""
        aware = spec.kind == Kind.DATETIME
        if isinstance(value, dict):
            name = value.get("relative")
            if set(value) != {"relative"} or name not in RELATIVE_DATES:
                raise FilterError(spec.name, _("unknown relative date; use one of: %(names)s.")
                                  % {"names": ", ".join(RELATIVE_DATES)})
            if name == "overdue" and aware:
                return None, timezone.now()
            first, last = _relative_days(name, timezone.localdate())
        elif isinstance(value, str):
            moment = None
            try:
                first = last = parse_date(value)
                if first is None and aware:
                    moment = parse_datetime(value)
            except ValueError:
                first = last = moment = None
            if moment is not None:
                if timezone.is_naive(moment):
                    moment = timezone.make_aware(moment)
                return moment, moment + datetime.timedelta(microseconds=1)
            if first is None:
                if aware:
                    raise FilterError(spec.name, _("give a date as YYYY-MM-DD, a date and time "
                                                   "(YYYY-MM-DDTHH:MM) or a relative date."))
                raise FilterError(spec.name, _("give a date as YYYY-MM-DD or a relative date."))
        else:
            raise FilterError(spec.name, _("give a date as YYYY-MM-DD or a relative date."))
        end = last + datetime.timedelta(days=1) if last is not None else None
        if aware:
            return (_local_start(first) if first else None), (_local_start(end) if end else None)
        return first, end

    # -- conditions -----------------------------------------------------------------------------

    def _not(self, spec: _Spec, condition: Q) -> Q:
        """NOT, with records that have no value at all counted as "not equal"."""
        if spec.info.nullable and spec.kind not in (Kind.RELATIONS,):
            return ~condition | Q(L.IsNull(spec.target, True))
        return ~condition

    def empty(self, spec: _Spec) -> Q:
        target, kind = spec.target, spec.kind
        if spec.custom is not None:
            raw = KeyTextTransform(spec.custom.code, "custom")
            return Q(L.IsNull(raw, True)) | Q(L.In(raw, ["", "[]"]))
        if kind == Kind.RELATIONS:
            return ~Q(self._m2m(spec, None))
        if kind == Kind.TAGS:
            return Q(**{spec.name: []})
        if kind in (Kind.EMAILS, Kind.PHONES):
            return Q(**{spec.name: []})
        condition = Q(L.IsNull(target, True)) if spec.info.nullable else Q()
        if kind == Kind.TEXT:
            condition |= Q(L.Exact(target, ""))
        return condition if condition else Q(pk__in=[])

    def _m2m(self, spec: _Spec, ids: list[int] | None) -> Exists:
        field = spec.model_field
        through = field.remote_field.through
        conditions = {field.m2m_field_name(): OuterRef("pk")}
        if ids is not None:
            conditions[f"{field.m2m_reverse_field_name()}__in"] = ids
        return Exists(through.objects.filter(**conditions))

    def condition(self, spec: _Spec, op: str, value) -> Q:
        builder = {
            Kind.TEXT: self.on_text, Kind.PHONE: self.on_phone, Kind.CHOICE: self.on_choice,
            Kind.NUMBER: self.on_number, Kind.DATE: self.on_date, Kind.DATETIME: self.on_date,
            Kind.BOOLEAN: self.on_boolean, Kind.RELATION: self.on_relation, Kind.RELATIONS: self.on_relations,
            Kind.TAGS: self.on_tags, Kind.MULTISELECT: self.on_tags, Kind.EMAILS: self.on_contact_points,
            Kind.PHONES: self.on_contact_points,
        }[spec.kind]
        return builder(spec, op, value)

    def on_text(self, spec: _Spec, op: str, value) -> Q:
        target = spec.target
        if op in ("in", "not_in"):
            condition = Q(L.In(Lower(target), [item.lower() for item in self.values(spec, value, self.text)]))
            return condition if op == "in" else self._not(spec, condition)
        text = self.text(spec, value)
        if op in ("eq", "ne"):
            condition = Q(L.IExact(target, text))
            return condition if op == "eq" else self._not(spec, condition)
        # Insensitive to case and Polish diacritics: "lodz" finds "Łódź".
        lookup = L.StartsWith if op == "starts_with" else L.Contains
        condition = Q(lookup(SearchFold(target), SearchFold(Value(text))))
        return self._not(spec, condition) if op == "not_contains" else condition

    def phone(self, spec: _Spec, value) -> str:
        """A whole phone number as stored: E.164."""
        text = self.text(spec, value)
        try:
            return normalise_phone(text)
        except ValidationError:
            raise FilterError(spec.name, _("“%(value)s” is not a valid phone number.") % {"value": text}) from None

    def digits(self, spec: _Spec, value) -> str:
        """A part of a phone number: its digits, whatever way it was typed ("600-100-200")."""
        digits = _digits(self.text(spec, value))
        if not digits:
            raise FilterError(spec.name, _("give a phone number or a part of it (digits)."))
        return digits

    def on_phone(self, spec: _Spec, op: str, value) -> Q:
        if op in ("eq", "ne"):
            condition = Q(L.Exact(spec.target, self.phone(spec, value)))
        else:
            condition = Q(L.Contains(spec.target, self.digits(spec, value)))
        return condition if op in ("eq", "contains") else self._not(spec, condition)

    def on_choice(self, spec: _Spec, op: str, value) -> Q:
        choices = self.values(spec, value, self.choice) if op in ("in", "not_in") else [self.choice(spec, value)]
        if spec.custom is not None:
            # JSON containment, served by the GIN index on ``custom``.
            condition = Q()
            for choice in choices:
                condition |= Q(custom__contains={spec.custom.code: choice})
            return condition if op in ("eq", "in") else ~condition
        condition = Q(L.In(spec.target, choices))
        return condition if op in ("eq", "in") else self._not(spec, condition)

    def on_number(self, spec: _Spec, op: str, value) -> Q:
        target = spec.target
        if op in ("in", "not_in"):
            condition = Q(L.In(target, self.values(spec, value, self.number)))
            return condition if op == "in" else self._not(spec, condition)
        if op == "between":
            low, high = self.pair(spec, value, self.number)
            return Q(L.GreaterThanOrEqual(target, low)) & Q(L.LessThanOrEqual(target, high))
        number = self.number(spec, value)
        if op == "ne":
            return self._not(spec, Q(L.Exact(target, number)))
        lookup = {"eq": L.Exact, "gt": L.GreaterThan, "gte": L.GreaterThanOrEqual, "lt": L.LessThan,
                  "lte": L.LessThanOrEqual}[op]
        return Q(lookup(target, number))

    def pair(self, spec: _Spec, value, clean) -> tuple:
        if not isinstance(value, list) or len(value) != 2:
            raise FilterError(spec.name, _("“between” takes two values: [from, to]."))
        return clean(spec, value[0]), clean(spec, value[1])

    def on_date(self, spec: _Spec, op: str, value) -> Q:
        target = spec.target
        if op == "between":
            (low, _end), (_start, high) = self.pair(spec, value, self.span)
        else:
            low, high = self.span(spec, value)
        bound = {"eq": (low, high), "ne": (low, high), "between": (low, high), "gt": (high, None),
                 "gte": (low, None), "lt": (None, low), "lte": (None, high)}[op]
        needed = {"gt": bound[0], "gte": bound[0], "lt": bound[1], "lte": bound[1]}
        if op in needed and needed[op] is None:
            raise FilterError(spec.name, _("this relative date cannot be used with “%(op)s”.") % {"op": op})
        condition = Q()
        if bound[0] is not None:
            condition &= Q(L.GreaterThanOrEqual(target, bound[0]))
        if bound[1] is not None:
            condition &= Q(L.LessThan(target, bound[1]))
        return self._not(spec, condition) if op == "ne" else condition

    def on_boolean(self, spec: _Spec, op: str, value) -> Q:
        wanted = self.boolean(spec, value) is (op == "eq")
        if spec.custom is not None:
            # An unset checkbox counts as "no".
            condition = Q(custom__contains={spec.custom.code: True})
            return condition if wanted else ~condition
        return Q(L.Exact(spec.target, wanted))

    def on_relation(self, spec: _Spec, op: str, value) -> Q:
        ids = self.values(spec, value, self.identifier) if op in ("in", "not_in") \
            else [self.identifier(spec, value)]
        if spec.custom is not None:
            condition = Q()
            for pk in ids:
                condition |= Q(custom__contains={spec.custom.code: pk})
            return condition if op in ("eq", "in") else ~condition
        condition = Q(L.In(spec.target, ids))
        return condition if op in ("eq", "in") else self._not(spec, condition)

    def on_relations(self, spec: _Spec, op: str, value) -> Q:
        if op == "has":
            return Q(self._m2m(spec, [self.identifier(spec, value)]))
        ids = self.values(spec, value, self.identifier)
        if op == "has_any":
            return Q(self._m2m(spec, ids))
        condition = Q()
        for pk in ids:
            condition &= Q(self._m2m(spec, [pk]))
        return condition

    def on_tags(self, spec: _Spec, op: str, value) -> Q:
        tags = [self.tag(spec, value)] if op == "has" else self.values(spec, value, self.tag)
        if spec.custom is not None:
            code = spec.custom.code
            if op == "has_any":
                condition = Q()
                for tag in tags:
                    condition |= Q(custom__contains={code: [tag]})
                return condition
            return Q(custom__contains={code: tags})
        lookup = "overlap" if op == "has_any" else "contains"
        return Q(**{f"{spec.name}__{lookup}": tags})

    def on_contact_points(self, spec: _Spec, op: str, value) -> Q:
        if op == "eq":
            # JSON containment: some item has exactly this value (stored normalised: E.164, lower-case e-mail).
            exact = self.phone(spec, value) if spec.kind == Kind.PHONES else self.text(spec, value).strip().lower()
            return Q(**{f"{spec.name}__contains": [{"value": exact}]})
        if spec.kind == Kind.PHONES:
            part = self.digits(spec, value)
        else:
            part = self.text(spec, value).strip()
            if not part:
                raise FilterError(spec.name, _("give an e-mail address or a part of it."))
        condition = Q(AnyItemValueLike(F(spec.name), Value(f"%{like_escape(part)}%")))
        return condition if op == "contains" else ~condition


def compile_filter(code: str, tree: dict | None, *, actor=None) -> Q:
    """A Q for records of ``code`` matching the filter tree; FilterError when the tree is not valid.

    ``actor`` is whoever looks at the list: the member "me" means."""
    if tree is None or tree == {}:
        return Q()
    return _Conditions(code, actor).node(tree, depth=0)


# Links to other records sort by the linked record's title.
RELATED_TITLES = {
    "contact": {"company": "company__name"},
    "lead": {"contact": "contact__last_name", "company": "company__name"},
    "deal": {"company": "company__name", "lead": "lead__title"},
    "task": {"parent": "parent__title"},
}


def compile_ordering(code: str, ordering: list[str] | tuple[str, ...] | None, *, actor=None) -> list:
    """``order_by()`` arguments for a sort order like ``["-value", "custom.budget"]``.

    Ends with ``id`` (in the direction of the last key) so equal values keep a stable order and
    cursor pagination never skips or repeats a record. Empty means the record type's default."""
    fields = _Fields(code, sorting=True, actor=actor)
    if not ordering:
        ordering = fields.rt.default_ordering
    if not isinstance(ordering, list | tuple):
        raise FilterError(None, _("give the sort order as a list of field names."))
    result: list = []
    seen: set[str] = set()
    descending = False
    for item in ordering:
        if not isinstance(item, str) or not item.lstrip("-"):
            raise FilterError(None, _("give the sort order as a list of field names."))
        descending = item.startswith("-")
        name = item.removeprefix("-")
        if name in ("id", "pk"):
            result.append("-id" if descending else "id")
            return result
        if name in seen:
            continue
        seen.add(name)
        spec = fields.resolve(name)
        if not spec.info.sortable:
            raise FilterError(name, _("this field cannot be used for sorting."), sorting=True)
        if spec.custom is not None:
            result.append(spec.target.desc(nulls_last=True) if descending else spec.target.asc(nulls_last=True))
        elif spec.members:
            result.append(("-" if descending else "") + f"{name}__user__full_name")
        elif name in RELATED_TITLES.get(fields.rt.code, {}):
            # A link to another record sorts by what the reader sees: its name, not its id.
            result.append(("-" if descending else "") + RELATED_TITLES[fields.rt.code][name])
        else:
            result.append(item)
    result.append("-id" if descending else "id")
    return result
