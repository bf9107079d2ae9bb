"""The REST API's shared machinery (``/api/v1/`` on each portal's own host).

- ``exception_handler``: one error shape for every error (set in REST_FRAMEWORK)::

      {"error": {"code": "validation_error", "message": "…", "fields": {"nip": ["…"]},
                 "items": {"0": {"last_name": ["…"]}}},       # bulk requests only
       "detail": "…"}                                          # the message again, for DRF clients

- rate limits per API key (or member) and per portal, on the cache, keyed by the portal's schema;
- keyset cursor pagination over any sort order ``crm.core.filters.compile_ordering`` accepts;
- idempotent POSTs: ``Idempotency-Key`` answers are kept in ``IdempotencyKey`` and replayed;
- ``RecordViewSet``: one thin viewset for every record type, reading through crm.core.selectors
  and writing through crm.core.services; the domain apps add their serializers;
- search and saved views endpoints, and the OpenAPI hook that adds each portal's custom fields.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import math
import uuid
from decimal import Decimal

from django.contrib.postgres.expressions import ArraySubquery
from django.core import signing
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.signals import got_request_exception
from django.core.validators import MaxLengthValidator
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, OuterRef, Q
from django.db.models.expressions import OrderBy
from django.http import Http404
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback

from crm.core import filters as filter_language
from crm.core import saved_views, search, selectors, services
from crm.core.api_throttling import principal, principal_label
from crm.core.contact_points import KINDS
from crm.core.history import field_label_of
from crm.core.models import ChangeEntry, CustomField, FieldType, IdempotencyKey, SavedView
from crm.core.registry import record_type, record_types
from identity.members import permissions
from identity.members.models import Membership

log = logging.getLogger("django.request")

MAX_BULK = 200
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Stored answers are forgotten after a day by crm.core.services.forget_old_idempotency_keys (a daily
# job); until then an older row is treated as forgotten already.
IDEMPOTENCY_TTL = datetime.timedelta(hours=services.IDEMPOTENCY_KEY_HOURS)


# --- One error shape --------------------------------------------------------------------------

class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = gettext_lazy("The request conflicts with an earlier one.")
    default_code = "conflict"


class ItemsPermissionDenied(exceptions.PermissionDenied):
    """A bulk request names records the caller may read but not change; ``items`` says which."""

    def __init__(self, detail, items: dict) -> None:
        super().__init__(detail)
        self.items = items


_CODES = [
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "not_authenticated"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.ValidationError, "validation_error"),
    (exceptions.ParseError, "parse_error"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "rate_limited"),
    (Conflict, "conflict"),
]


def _code_of(exc: exceptions.APIException) -> str:
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    return str(getattr(exc, "default_code", "error"))


def _model_of(view) -> type[models.Model] | None:
    return getattr(view, "error_model", None)


def _label(name: str, model) -> str:
    """How a field is called in the reader's language: the model's verbose name, or its own name."""
    first, _dot, rest = name.partition(".")
    if first == "custom" and rest:
        found = CustomField.objects.filter(code=rest.split(".")[0]).values_list("label", flat=True).first()
        return found or name
    if model is not None:
        try:
            label = str(model._meta.get_field(first).verbose_name)
        except FieldDoesNotExist:
            return name
        return f"{label} ({rest})" if rest else label
    return name


def _is_model_field(name: str, model) -> bool:
    try:
        return model is not None and bool(model._meta.get_field(name))
    except FieldDoesNotExist:
        return False


def _named(name: str, messages, model) -> list[str]:
    """Each message names its field: "NIP: …" unless the message already says which field it is."""
    label = _label(name, model)
    prefix = name if label == name and not _is_model_field(name, model) else capfirst(label)
    named = []
    for message in messages:
        message = str(message)
        lowered = message.lower()
        if label.lower() in lowered or name.lower() in lowered:
            named.append(message)
        else:
            named.append(f"{prefix}: {message}")
    return named


def _flatten(detail, prefix: str = ""):
    """DRF's nested errors as ``{"emails.0.value": [...]}``."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(detail, list | tuple):
        if all(not isinstance(item, dict | list | tuple) for item in detail):
            yield prefix, [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    yield from _flatten(item, f"{prefix}.{index}" if prefix else str(index))
    else:
        yield prefix, [str(detail)]


def _split_errors(pairs, model) -> tuple[dict[str, list[str]], list[str]]:
    fields, general = {}, []
    for name, messages in pairs:
        if name in ("", NON_FIELD_ERRORS, "non_field_errors"):
            general.extend(str(message) for message in messages)
        else:
            fields[name] = _named(name, messages, model)
    return fields, general


def _django_pairs(error: DjangoValidationError):
    if hasattr(error, "error_dict"):
        return list(error.message_dict.items())
    return [("", error.messages)]


def _validation_message(fields: dict, general: list[str], model) -> str:
    if general and not fields:
        return " ".join(general)
    labels = ", ".join(_label(name, model) for name in fields)
    summary = _("Some values were not accepted: %(fields)s.") % {"fields": labels}
    return " ".join([*general, summary]) if general else summary


def error_body(code: str, message, *, fields: dict | None = None, items: dict | None = None) -> dict:
    error = {"code": code, "message": str(message), "fields": fields or {}}
    if items is not None:
        error["items"] = items
    return {"error": error, "detail": str(message)}


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error of every API view in the one shape above."""
    view = context.get("view")
    model = _model_of(view)
    headers: dict[str, str] = {}
    if isinstance(exc, services.BulkValidationError):
        items = {}
        for index, errors in sorted(exc.errors.items()):
            fields, general = _split_errors(errors.items(), model)
            items[str(index)] = fields | ({"non_field_errors": general} if general else {})
        set_rollback()
        return Response(error_body("validation_error", exc.messages[0], items=items), status=400)
    if isinstance(exc, DjangoValidationError):
        fields, general = _split_errors(_django_pairs(exc), model)
        set_rollback()
        return Response(error_body("validation_error", _validation_message(fields, general, model), fields=fields),
                        status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) if exc.args else _("Not found, or you may not see it."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) if exc.args else None)
    if not isinstance(exc, exceptions.APIException):
        return _server_error(exc, context)
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    code = _code_of(exc)
    fields, items = {}, getattr(exc, "items", None)
    if isinstance(exc, exceptions.ValidationError):
        fields, general = _split_errors(_flatten(exc.detail), model)
        message = _validation_message(fields, general, model)
    elif isinstance(exc, exceptions.Throttled):
        wait = max(1, math.ceil(exc.wait or 1))
        headers["Retry-After"] = str(wait)
        message = _("Too many requests: the limit of this API key or portal was reached. Try again in %(seconds)d "
                    "seconds.") % {"seconds": wait}
    else:
        message = str(exc.detail) if not isinstance(exc.detail, list | dict) else str(exc.default_detail)
    set_rollback()
    return Response(error_body(code, message, fields=fields, items=items), status=exc.status_code, headers=headers)


def _server_error(exc, context) -> Response:
    """An unexpected failure: reported like Django reports it (log, Sentry, the test client), answered
    in the one shape."""
    request = context.get("request")
    django_request = getattr(request, "_request", None)
    log.error("Internal Server Error: %s", getattr(django_request, "path", "?"), exc_info=exc,
              extra={"status_code": 500, "request": django_request})
    got_request_exception.send(sender=None, request=django_request)
    set_rollback()
    response = Response(error_body("server_error", _("Something went wrong on our side and it was recorded. "
                                                     "Try again in a moment.")), status=500)
    response._has_been_logged = True  # logged above with the traceback; Django need not log it again
    return response


def api_not_found(request, *args, **kwargs):
    """Any other address under /api/: a 404 in the one error shape, not the HTML page."""
    from django.http import JsonResponse

    message = _("There is no such API address. The API's paths are listed at /api/v1/docs/.")
    return JsonResponse(error_body("not_found", message), status=404)


# --- Keyset cursor pagination -----------------------------------------------------------------

def _plain(value):
    """A sort key value as JSON keeps it exactly (microseconds included)."""
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value


class RecordCursorPagination(CursorPagination):
    """Cursor pagination over the sort order the view validated (``view.cursor_ordering()``).

    DRF's CursorPagination keeps only the first sort key in the cursor and pages through equal
    values with an offset; this one keeps every key of the last row (keyset pagination), so a
    sort by a column with many equal values or empty values (NULL) neither skips nor repeats
    records. The cursor is signed and bound to the sort order it was made for."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at", "-id")
    salt = "kompas.api.cursor"

    def _keys(self, ordering) -> list[tuple[str, object, bool, bool]]:
        """(alias, expression, descending, nulls_last) for each sort key, ending with ``id``."""
        keys = []
        for index, item in enumerate(ordering):
            if isinstance(item, str):
                descending = item.startswith("-")
                name = item.lstrip("-")
                expression = F("pk" if name == "id" else name)
                nulls_last = not descending
            elif isinstance(item, OrderBy):
                expression, descending = item.expression, item.descending
                nulls_last = bool(item.nulls_last) if (item.nulls_last or item.nulls_first) else not descending
            else:
                expression, descending, nulls_last = item, False, True
            keys.append((f"kp_cursor_{index}", expression, descending, nulls_last))
        if not any(isinstance(expression, F) and expression.name in ("pk", "id") for _a, expression, _d, _n in keys):
            descending = keys[-1][2] if keys else False
            keys.append((f"kp_cursor_{len(keys)}", F("pk"), descending, not descending))
        return keys

    @staticmethod
    def _order(alias: str, descending: bool, nulls_last: bool) -> OrderBy:
        return OrderBy(F(alias), descending=descending, nulls_last=True if nulls_last else None,
                       nulls_first=None if nulls_last else True)

    @staticmethod
    def _after(keys, values) -> Q:
        """Rows after ``values`` in the (already reversed, when paging back) sort order."""
        condition, equal = Q(pk__in=[]), Q()
        for (alias, _expression, descending, nulls_last), value in zip(keys, values, strict=True):
            if value is None:
                beyond = Q(pk__in=[]) if nulls_last else Q(**{f"{alias}__isnull": False})
                same = Q(**{f"{alias}__isnull": True})
            else:
                beyond = Q(**{f"{alias}__lt" if descending else f"{alias}__gt": value})
                if nulls_last:
                    beyond |= Q(**{f"{alias}__isnull": True})
                same = Q(**{alias: value})
            condition |= equal & beyond
            equal &= same
        return condition

    def _signature(self, keys) -> str:
        text = repr([(repr(expression), descending, nulls_last) for _a, expression, descending, nulls_last in keys])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def decode_cursor(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if not encoded:
            return None
        try:
            payload = signing.loads(encoded, salt=self.salt)
            values, reverse, signature = payload["v"], bool(payload["r"]), payload["s"]
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            raise exceptions.ValidationError({"cursor": [_("This cursor is not valid; start from the first page.")]}) \
                from None
        if signature != self.signature or not isinstance(values, list) or len(values) != len(self.keys):
            raise exceptions.ValidationError({"cursor": [
                _("This cursor belongs to another sort order; start from the first page.")]})
        return values, reverse

    def encode_cursor(self, cursor) -> str:
        values, reverse = cursor
        from rest_framework.utils.urls import replace_query_param

        token = signing.dumps({"v": values, "r": int(reverse), "s": self.signature}, salt=self.salt, compress=True)
        return replace_query_param(self.base_url, self.cursor_query_param, token)

    def _values_of(self, instance) -> list:
        return [_plain(getattr(instance, alias)) for alias, *_rest in self.keys]

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        ordering = view.cursor_ordering() if hasattr(view, "cursor_ordering") else self.ordering
        self.keys = self._keys(ordering)
        self.signature = self._signature(self.keys)
        cursor = self.decode_cursor(request)
        values, reverse = cursor if cursor else (None, False)
        keys = [(alias, expression, descending != reverse, nulls_last != reverse)
                for alias, expression, descending, nulls_last in self.keys]
        queryset = queryset.annotate(**{alias: expression for alias, expression, _d, _n in keys})
        if values is not None:
            try:
                queryset = queryset.filter(self._after(keys, values))
            except (DjangoValidationError, ValueError, TypeError):
                raise exceptions.ValidationError({"cursor": [_("This cursor is not valid; start from the first "
                                                               "page.")]}) from None
        queryset = queryset.order_by(*(self._order(alias, descending, nulls_last)
                                       for alias, _e, descending, nulls_last in keys))
        rows = list(queryset[:self.page_size + 1])
        more = len(rows) > self.page_size
        self.page = rows[:self.page_size]
        if reverse:
            self.page.reverse()
            self.has_next, self.has_previous = True, more
        else:
            self.has_next, self.has_previous = more, values is not None
        return self.page

    def get_next_link(self):
        if not (self.has_next and self.page):
            return None
        return self.encode_cursor((self._values_of(self.page[-1]), False))

    def get_previous_link(self):
        if not (self.has_previous and self.page):
            return None
        return self.encode_cursor((self._values_of(self.page[0]), True))


# --- Idempotent POSTs -------------------------------------------------------------------------

class IdempotentReplay(Exception):
    """The stored answer to an earlier request with the same key and body."""

    def __init__(self, stored: IdempotencyKey) -> None:
        self.stored = stored

    def response(self) -> Response:
        return Response(self.stored.response_body, status=self.stored.status_code,
                        headers={"Idempotent-Replayed": "true"})


def request_hash(method: str, path: str, data) -> str:
    """What makes two requests "the same" for an idempotency key: method, path and body (as parsed,
    so key order and spacing do not matter)."""
    if hasattr(data, "lists"):
        data = dict(data.lists())
    text = json.dumps([method, path, data], sort_keys=True, cls=DjangoJSONEncoder, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def begin_idempotent(request: Request) -> IdempotencyKey | None:
    """Reserve the caller's key for this request, or replay / refuse when it was used before.

    The unique constraint on (principal, key) decides between concurrent duplicates: the one
    whose row went in does the work, the others get a 409 (still in progress) or the replay."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if request.method != "POST" or not key:
        return None
    actor = principal(request)
    if actor is None:
        return None
    if len(key) > IdempotencyKey._meta.get_field("key").max_length:
        raise exceptions.ValidationError({IDEMPOTENCY_HEADER: [_("The key may be at most 255 characters long.")]})
    label, digest = principal_label(actor), request_hash(request.method, request.path, request.data)
    path = request.path[:IdempotencyKey._meta.get_field("path").max_length]
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(key=key, principal=label, method=request.method, path=path,
                                                     request_hash=digest)
        except IntegrityError:
            stored = IdempotencyKey.objects.filter(principal=label, key=key).first()
        if stored is None:
            continue  # forgotten in between: try to reserve it again
        if stored.created_at < timezone.now() - IDEMPOTENCY_TTL:
            stored.delete()
            continue
        if stored.request_hash != digest:
            raise Conflict(_("This Idempotency-Key was already used for a different request. Use a new key for a "
                             "new request."))
        if stored.status_code is None:
            raise Conflict(_("A request with this Idempotency-Key is still being processed. Retry in a moment."))
        raise IdempotentReplay(stored)
    raise Conflict(_("A request with this Idempotency-Key is still being processed. Retry in a moment."))


def finish_idempotent(reservation: IdempotencyKey, response: Response) -> None:
    """Keep answers that settle the request (success, or refused values) for replay; forget the
    reservation otherwise, so the client may retry with the same key."""
    if 200 <= response.status_code < 300 or response.status_code == 400:
        body = None if response.data is None else json.loads(JSONRenderer().render(response.data))
        IdempotencyKey.objects.filter(pk=reservation.pk).update(status_code=response.status_code, response_body=body)
    else:
        IdempotencyKey.objects.filter(pk=reservation.pk).delete()


class ApiViewMixin:
    """What every CRM API view does: the caller as a principal, idempotent POSTs, and the model
    whose field names errors are reported with."""

    error_model: type[models.Model] | None = None
    _idempotency: IdempotencyKey | None = None

    @property
    def actor(self):
        return principal(self.request)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self._idempotency = begin_idempotent(request)

    def handle_exception(self, exc):
        if isinstance(exc, IdempotentReplay):
            return exc.response()
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        reservation, self._idempotency = self._idempotency, None
        if reservation is not None:
            finish_idempotent(reservation, response)
        return response


# --- Serializer building blocks -----------------------------------------------------------------

def display_name(obj) -> str:
    if isinstance(obj, Membership):
        return obj.user.full_name or obj.user.email
    return str(obj)


class IdField(serializers.IntegerField):
    """A foreign key as the related row's id, read from ``<field>_id`` (no query)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("required", False)
        if not kwargs.get("read_only"):
            kwargs.setdefault("min_value", 1)
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        return getattr(instance, f"{self.source}_id")


class IdListField(serializers.ListField):
    """A many-to-many field as a sorted list of ids: from the ``<field>_ids`` annotation lists
    get (``m2m_ids``), from the relation otherwise."""

    child = serializers.IntegerField(min_value=1)

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        ids = getattr(instance, f"{self.source}_ids", None)
        if ids is None:
            ids = [related.pk for related in getattr(instance, self.source).all()]
        return sorted(ids)


@extend_schema_field({"type": "object", "nullable": True, "readOnly": True,
                      "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}})
class SummaryField(serializers.Field):
    """``{"id", "name"}`` of a related row, for reading (the list query selects it)."""

    def __init__(self, source: str, **kwargs) -> None:
        super().__init__(source=source, read_only=True, **kwargs)

    def to_representation(self, value) -> dict:
        return {"id": value.pk, "name": display_name(value)}


class ContactPointSerializer(serializers.Serializer):
    value = serializers.CharField(max_length=320)
    kind = serializers.ChoiceField(choices=KINDS, required=False)


def contact_points(**kwargs) -> serializers.ListField:
    return serializers.ListField(child=ContactPointSerializer(), required=False, **kwargs)


def m2m_ids(model: type[models.Model], name: str) -> ArraySubquery:
    """The ids a record's many-to-many field holds, as an array in the record's own query."""
    field = model._meta.get_field(name)
    through = field.remote_field.through
    target = field.m2m_reverse_field_name()
    return ArraySubquery(through.objects.filter(**{field.m2m_field_name(): OuterRef("pk")})
                         .order_by(target).values(target))


class RecordSerializer(serializers.ModelSerializer):
    """A record on the wire: every natural field, foreign keys as ids plus ``<fk>_summary``,
    ``custom`` as an object. Input is checked for its shape only: the services check the rest
    (and name the field when they refuse)."""

    entity = ""  # the record type code, for the OpenAPI hook
    owner = IdField()
    owner_summary = SummaryField("owner")
    created_by = IdField(read_only=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    custom = serializers.DictField(required=False, help_text=gettext_lazy(
        "The portal's custom fields of this record type, by code."))

    COMMON = ["id", "owner", "owner_summary", "created_by", "created_at", "updated_at", "deleted_at", "tags",
              "custom"]

    class Meta:
        read_only_fields = ("id", "created_at", "updated_at", "deleted_at")

    def get_fields(self):
        fields = super().get_fields()
        for name, field in fields.items():
            if field.read_only:
                continue
            field.required = False
            if isinstance(field, serializers.CharField) and name not in self._declared_fields:
                # Lengths are the model's business: the services normalise first ("526-000-12-46").
                field.validators = [v for v in field.validators if not isinstance(v, MaxLengthValidator)]
        return fields

    def to_representation(self, instance) -> dict:
        """Fields the caller's role may not see (field rules, identity) are left out of every answer."""
        data = super().to_representation(instance)
        request = self.context.get("request")
        actor = principal(request) if request is not None else None
        hidden = permissions.hidden_fields(actor, self.entity) if actor is not None and self.entity else set()
        for name in hidden:
            if name.startswith("custom."):
                (data.get("custom") or {}).pop(name.removeprefix("custom."), None)
            else:
                data.pop(name, None)
                data.pop(f"{name}_summary", None)
        return data

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                message = _("This field does not exist or cannot be changed.")
                raise serializers.ValidationError({name: [message] for name in unknown})
        return super().to_internal_value(data)


class ChangeSerializer(serializers.ModelSerializer):
    """One line of a record's history."""

    field_label = serializers.SerializerMethodField()
    actor = IdField(read_only=True)

    class Meta:
        model = ChangeEntry
        fields = ["id", "kind", "field", "field_label", "old_value", "new_value", "actor", "actor_label", "at",
                  "batch"]

    def get_field_label(self, entry: ChangeEntry) -> str:
        return field_label_of(entry)


class TimelineItemSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["activity", "task", "change"])
    at = serializers.DateTimeField()
    item = serializers.SerializerMethodField()

    def get_item(self, entry) -> dict:
        from crm.activities.api import ActivitySerializer
        from crm.tasks.api import TaskSerializer

        serializer = {"activity": ActivitySerializer, "task": TaskSerializer, "change": ChangeSerializer}[entry.kind]
        return serializer(entry.item, context=self.context).data


class IdsSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=1, max_length=MAX_BULK,
                                write_only=True)

    def validate_ids(self, ids: list[int]) -> list[int]:
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError(_("Each record may be listed only once."))
        return ids


# --- The record viewset -----------------------------------------------------------------------

def _json_param(request: Request, name: str):
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise DjangoValidationError({name: [_("The filter is not valid JSON.")]}) from None


def _compiled(code: str, compile_, param: str, *args, **kwargs):
    try:
        return compile_(code, *args, **kwargs)
    except filter_language.FilterError as error:
        raise DjangoValidationError({param: error.messages}) from None


LIST_PARAMETERS = [
    OpenApiParameter("filter", str, description="A filter in the filter language, as JSON, e.g. "
                     '{"and": [{"field": "city", "op": "eq", "value": "Kraków"}]}'),
    OpenApiParameter("q", str, description="Full-text search (case and Polish diacritics do not matter)."),
    OpenApiParameter("tags", str, description="Comma-separated tags; records having all of them."),
    OpenApiParameter("ordering", str, description="Comma-separated fields, '-' for descending, e.g. "
                     "-value,custom.budget."),
    OpenApiParameter("view", int, description="The id of a saved view whose filters and sort order apply."),
]


class RecordViewSet(ApiViewMixin, viewsets.GenericViewSet):
    """List, read, create, change, delete (to the recycle bin), restore, purge, history, timeline
    and bulk writes of one record type. Subclasses set ``code`` and ``serializer_class``."""

    code = ""
    lookup_value_converter = "int"
    pagination_class = RecordCursorPagination
    extra_select_related: tuple[str, ...] = ()
    m2m: tuple[str, ...] = ()

    @property
    def rt(self):
        return record_type(self.code)

    @property
    def error_model(self):
        return self.rt.model

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if cls.code and getattr(cls, "serializer_class", None):
            cls.wire = _bulk_serializers(cls.serializer_class)

    # -- reading helpers --------------------------------------------------------------------------

    def decorate(self, queryset: models.QuerySet) -> models.QuerySet:
        """What serializing a page needs, in the page's own query: related rows and m2m ids."""
        if self.extra_select_related:
            queryset = queryset.select_related(*self.extra_select_related)
        annotations = {f"{name}_ids": m2m_ids(self.rt.model, name) for name in self.m2m}
        return queryset.annotate(**annotations) if annotations else queryset

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.rt.model.objects.none()
        return self.decorate(selectors.records(self.actor, self.code))

    def get_serializer_class(self):
        if self.action == "bulk":
            method = getattr(self.request, "method", "POST")
            return self.wire["update" if method == "PATCH" else "create"]
        if self.action == "bulk_delete":
            return self.wire["delete"]
        if self.action == "history":
            return ChangeSerializer
        if self.action == "timeline":
            return TimelineItemSerializer
        return self.serializer_class

    def record(self, pk, *, action: str = "read", include_deleted: bool = False):
        return selectors.record_for(self.actor, self.code, pk, action=action, include_deleted=include_deleted)

    def written(self, records: list) -> list:
        """Records a service returned, read back with what their representation shows."""
        found = {record.pk: record for record in self.decorate(
            self.rt.model.objects.select_related(*self.rt.select_related)).filter(pk__in=[r.pk for r in records])}
        return [found.get(record.pk, record) for record in records]

    def represent(self, record) -> dict:
        return self.get_serializer(self.written([record])[0]).data

    def validated(self, data, *, partial: bool = False, serializer_class=None) -> dict:
        serializer = (serializer_class or self.serializer_class)(data=data, partial=partial,
                                                                 context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    # -- lists ------------------------------------------------------------------------------------

    def cursor_ordering(self) -> list:
        return self._ordering

    def filter_queryset(self, queryset):
        params, actor = self.request.query_params, self.actor
        names = [name.strip() for name in params.get("ordering", "").split(",") if name.strip()]
        if params.get("view"):
            view = saved_views.visible_view(actor, params["view"])
            if view.entity != self.code:
                raise DjangoValidationError({"view": [_("This view is of %(entity)s, not of %(here)s.") % {
                    "entity": record_type(view.entity).label_plural, "here": self.rt.label_plural}]})
            queryset = queryset.filter(_compiled(self.code, filter_language.compile_filter, "view",
                                                 view.filters or None, actor=actor))
            names = names or list(view.ordering)
        tree = _json_param(self.request, "filter")
        if tree is not None:
            queryset = queryset.filter(_compiled(self.code, filter_language.compile_filter, "filter", tree,
                                                 actor=actor))
        tags = [tag.strip() for tag in params.get("tags", "").split(",") if tag.strip()]
        if tags:
            queryset = queryset.filter(tags__contains=tags)
        query = params.get("q", "").strip()
        if query and search.search_terms(query):
            queryset = search.search_records(queryset, query)
            if not names:
                self._ordering = ["-search_score", "-id"]
                return queryset
        self._ordering = _compiled(self.code, filter_language.compile_ordering, "ordering", names, actor=actor)
        return queryset

    def require_any(self, page: list, action: str) -> None:
        """A caller with no right at all to ``action`` this record type hears so (403) rather than
        getting an empty list; asked only when the page is empty, so a list costs no extra query."""
        if not page and not permissions.can(self.actor, self.code, action, creating=True):
            raise permissions.NotPermitted(entity_code=self.code, action=action)

    @extend_schema(parameters=LIST_PARAMETERS)
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        self.require_any(page, "read")
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, pk=None) -> Response:
        return Response(self.get_serializer(self.record(pk)).data)

    # -- writes -----------------------------------------------------------------------------------

    @extend_schema(parameters=[OpenApiParameter("force", bool, description=(
        "true creates the record even when it looks like one that exists; otherwise such a request is "
        "answered 409 with the possible duplicates and why they match."))])
    def create(self, request: Request) -> Response:
        from crm.duplicates.selectors import PossibleDuplicates

        values = self.validated(request.data)
        force = request.query_params.get("force") in ("true", "1")
        try:
            record = services.create_record(actor=self.actor, code=self.code, values=values,
                                            check_duplicates=not force)
        except PossibleDuplicates as duplicates:
            message = duplicates.messages[0]
            return Response({"error": {"code": "possible_duplicates", "message": message, "fields": {},
                                       "matches": [match.as_dict() for match in duplicates.matches]},
                             "detail": message}, status=status.HTTP_409_CONFLICT)
        return Response(self.represent(record), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        record = self.record(pk, action="edit")
        values = self.validated(request.data, partial=True)
        record = services.update_record(actor=self.actor, record=record, values=values)
        return Response(self.represent(record))

    @extend_schema(parameters=[OpenApiParameter("permanent", bool, description=(
        "true deletes a record in the recycle bin for good; otherwise the record goes to the recycle bin."))])
    def destroy(self, request: Request, pk=None) -> Response:
        if request.query_params.get("permanent", "").lower() in ("true", "1", "yes"):
            record = self.record(pk, action="delete", include_deleted=True)
            services.purge_record(actor=self.actor, record=record)
        else:
            services.delete_record(actor=self.actor, record=self.record(pk, action="delete"))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk=None) -> Response:
        record = self.record(pk, action="delete", include_deleted=True)
        return Response(self.represent(services.restore_record(actor=self.actor, record=record)))

    @action(detail=False, methods=["get"], url_path="recycle-bin")
    def recycle_bin(self, request: Request) -> Response:
        self._ordering = ["-deleted_at", "-id"]
        page = self.paginate_queryset(self.decorate(selectors.recycle_bin(self.actor, self.code)))
        self.require_any(page, "delete")
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @action(detail=True, methods=["get"])
    def history(self, request: Request, pk=None) -> Response:
        self._ordering = ["-at", "-id"]
        page = self.paginate_queryset(selectors.history_of(self.actor, self.code, pk))
        return self.get_paginated_response(ChangeSerializer(page, many=True).data)

    @extend_schema(parameters=[OpenApiParameter("limit", int, description="At most this many items (≤ 200).")])
    @action(detail=True, methods=["get"])
    def timeline(self, request: Request, pk=None) -> Response:
        from crm.activities.selectors import timeline

        try:
            limit = min(max(int(request.query_params.get("limit", 100)), 1), MAX_BULK)
        except ValueError:
            raise DjangoValidationError({"limit": [_("Give a whole number.")]}) from None
        items = timeline(self.actor, self.code, pk, limit=limit)
        return Response({"results": TimelineItemSerializer(items, many=True, context=self.get_serializer_context())
                        .data})

    # -- bulk -------------------------------------------------------------------------------------

    def _bulk_create(self, items: list) -> list:
        """Every item is checked, on the wire and by the services, before the answer is given: the
        refusals of all items are reported together, and then nothing is saved."""
        cleaned, errors = {}, {}
        for index, item in enumerate(items):
            serializer = self.serializer_class(data=item, context=self.get_serializer_context())
            if serializer.is_valid():
                cleaned[index] = dict(serializer.validated_data)
            else:
                errors[index] = dict(_flatten(serializer.errors))
        indexes = sorted(cleaned)
        done = []
        with transaction.atomic():
            try:
                done = services.bulk_create_records(actor=self.actor, code=self.code,
                                                    items=[cleaned[index] for index in indexes])
            except services.BulkValidationError as refused:
                errors |= {indexes[position]: fields for position, fields in refused.errors.items()}
            if errors:
                transaction.set_rollback(True)
        if errors:
            raise services.BulkValidationError(dict(sorted(errors.items())))
        return done

    def _bulk_records(self, ids: list[int], action: str) -> list:
        """The records named by ``ids`` in that order; unknown or unreadable ids and records the caller
        may not ``action`` are reported by index, and then nothing is done."""
        actor = self.actor
        found = {record.pk: record for record in selectors.records(actor, self.code).filter(pk__in=ids)}
        missing = {index: {"id": [_("No such %(entity)s, or you may not see it.") % {"entity": self.rt.label}]}
                   for index, pk in enumerate(ids) if pk not in found}
        if missing:
            raise services.BulkValidationError(missing)
        records = [found[pk] for pk in ids]
        refused = {}
        for index, record in enumerate(records):
            if not permissions.can(actor, self.code, action, owner=record.owner):
                refused[str(index)] = {"id": [str(permissions.NotPermitted(entity_code=self.code, action=action))]}
        if refused:
            raise ItemsPermissionDenied(_("%(count)d of the records may not be changed by you; nothing was changed.")
                                        % {"count": len(refused)}, refused)
        return records

    @action(detail=False, methods=["post", "patch"], url_path="bulk")
    def bulk(self, request: Request) -> Response:
        """POST ``{"items": [...]}`` creates many; PATCH ``{"ids": [...], "values": {...}}`` changes many.
        All or nothing: when any item is refused, nothing is saved and each refusal is reported."""
        body = self.validated(request.data, serializer_class=self.get_serializer_class())
        if request.method == "PATCH":
            values = self.validated(body["values"], partial=True)
            records = self._bulk_records(body["ids"], "edit")
            done = services.bulk_update_records(actor=self.actor, records=records, values=values)
            code = status.HTTP_200_OK
        else:
            done = self._bulk_create(body["items"])
            code = status.HTTP_201_CREATED
        results = self.serializer_class(self.written(done), many=True, context=self.get_serializer_context()).data
        return Response({"results": results}, status=code)

    @action(detail=False, methods=["post"], url_path="bulk-delete")
    def bulk_delete(self, request: Request) -> Response:
        """``{"ids": [...]}`` moves the records to the recycle bin, all or none."""
        body = self.validated(request.data, serializer_class=self.get_serializer_class())
        records = self._bulk_records(body["ids"], "delete")
        services.bulk_delete_records(actor=self.actor, records=records)
        return Response({"deleted": body["ids"]})


def _bulk_serializers(serializer_class) -> dict[str, type[serializers.Serializer]]:
    """The bodies of the bulk endpoints of one record type, named for the OpenAPI schema."""
    name = serializer_class.__name__.removesuffix("Serializer")
    # Items are checked one by one by the view (errors by index); the schema shows them as records.
    items = extend_schema_field(serializer_class(many=True))(
        type(f"{name}ItemsField", (serializers.ListField,), {"__module__": serializer_class.__module__}))
    create = type(f"{name}BulkCreateSerializer", (serializers.Serializer,), {
        "__module__": serializer_class.__module__,
        "items": items(child=serializers.DictField(), min_length=1, max_length=MAX_BULK, write_only=True,
                       help_text=f"{name} objects to create."),
        "results": serializer_class(many=True, read_only=True),
    })
    update = type(f"{name}BulkUpdateSerializer", (IdsSerializer,), {
        "__module__": serializer_class.__module__,
        "values": serializers.DictField(write_only=True, help_text=f"The {name} fields to set on every record."),
        "results": serializer_class(many=True, read_only=True),
    })
    delete = type(f"{name}BulkDeleteSerializer", (IdsSerializer,), {
        "__module__": serializer_class.__module__,
        "deleted": serializers.ListField(child=serializers.IntegerField(), read_only=True),
    })
    return {"create": create, "update": update, "delete": delete}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema describes identity's API keys."""

    target_class = "identity.members.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "kp_<prefix>_<secret>",
                "description": "An API key of this portal (Settings → API keys), sent as "
                               "'Authorization: Bearer kp_…'. It works only on this portal's address."}


# --- Search -----------------------------------------------------------------------------------

class SearchHitSerializer(serializers.Serializer):
    entity = serializers.CharField()
    id = serializers.IntegerField()
    title = serializers.CharField()
    subtitle = serializers.CharField()
    score = serializers.FloatField()


class SearchView(ApiViewMixin, APIView):
    """``GET /api/v1/search/?q=…&types=contact,deal&limit=5``: the best matches of every record type
    the caller may read."""

    @extend_schema(parameters=[
        OpenApiParameter("q", str, required=True, description="At least two characters."),
        OpenApiParameter("types", str, description="Comma-separated record types, e.g. contact,deal."),
        OpenApiParameter("limit", int, description="Matches per record type (1–20, 5 by default)."),
    ], responses=SearchHitSerializer(many=True))
    def get(self, request: Request) -> Response:
        known = [rt.code for rt in record_types()]
        codes = [code.strip() for code in request.query_params.get("types", "").split(",") if code.strip()] or None
        if codes and set(codes) - set(known):
            raise DjangoValidationError({"types": [_("Unknown record types: %(types)s. Use: %(known)s.") % {
                "types": ", ".join(sorted(set(codes) - set(known))), "known": ", ".join(known)}]})
        try:
            limit = min(max(int(request.query_params.get("limit", 5)), 1), 20)
        except ValueError:
            raise DjangoValidationError({"limit": [_("Give a whole number.")]}) from None
        hits = search.search_everything(self.actor, request.query_params.get("q", ""), codes=codes,
                                        limit_per_type=limit)
        return Response({"results": SearchHitSerializer(hits, many=True).data})


# --- Saved views ------------------------------------------------------------------------------

class SavedViewSerializer(serializers.ModelSerializer):
    owner = IdField(read_only=True)
    owner_summary = SummaryField("owner")
    is_mine = serializers.SerializerMethodField()
    filters = serializers.JSONField(required=False)
    columns = serializers.ListField(child=serializers.CharField(max_length=80), required=False)
    ordering = serializers.ListField(child=serializers.CharField(max_length=81), required=False)

    class Meta:
        model = SavedView
        fields = ["id", "entity", "name", "owner", "owner_summary", "is_mine", "is_shared", "filters", "columns",
                  "ordering", "position", "created_at"]
        read_only_fields = ["id", "created_at"]

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            if not field.read_only:
                field.required = False
        return fields

    def get_is_mine(self, view: SavedView) -> bool:
        actor = self.context.get("actor")
        return isinstance(actor, Membership) and view.owner_id == actor.pk


class SavedViewViewSet(ApiViewMixin, viewsets.GenericViewSet):
    """Saved list views: ``GET /views/?entity=contact``, create, read, change and delete."""

    serializer_class = SavedViewSerializer
    error_model = SavedView
    lookup_value_converter = "int"
    pagination_class = None

    def get_queryset(self):
        return SavedView.objects.none()

    def get_serializer_context(self):
        return super().get_serializer_context() | {"actor": self.actor}

    def _changes(self, data, *, partial: bool) -> dict:
        serializer = self.get_serializer(data=data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @extend_schema(parameters=[OpenApiParameter("entity", str, required=True, description="A record type.")])
    def list(self, request: Request) -> Response:
        entity = request.query_params.get("entity", "")
        if not entity:
            raise DjangoValidationError({"entity": [_("Say which record type: ?entity=contact, deal, …")]})
        views = saved_views.views_visible_to(self.actor, entity)
        return Response({"results": self.get_serializer(views, many=True).data})

    def retrieve(self, request: Request, pk=None) -> Response:
        return Response(self.get_serializer(saved_views.visible_view(self.actor, pk)).data)

    def create(self, request: Request) -> Response:
        values = self._changes(request.data, partial=False)
        values.pop("position", None)
        view = saved_views.create_saved_view(actor=self.actor, entity=values.pop("entity", ""),
                                             name=values.pop("name", ""), **values)
        return Response(self.get_serializer(view).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        view = saved_views.visible_view(self.actor, pk)
        values = self._changes(request.data, partial=True)
        if "entity" in values and values["entity"] != view.entity:
            raise DjangoValidationError({"entity": [_("The record type of a view cannot be changed.")]})
        values.pop("entity", None)
        view = saved_views.update_saved_view(actor=self.actor, view=view, **values)
        return Response(self.get_serializer(view).data)

    def destroy(self, request: Request, pk=None) -> Response:
        saved_views.delete_saved_view(actor=self.actor, view=saved_views.visible_view(self.actor, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- OpenAPI: each portal's custom fields ------------------------------------------------------

_CUSTOM_TYPES = {
    FieldType.TEXT: {"type": "string", "maxLength": 500},
    FieldType.LONG_TEXT: {"type": "string"},
    FieldType.NUMBER: {"type": "number"},
    FieldType.MONEY: {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d{1,2})?$"},
    FieldType.DATE: {"type": "string", "format": "date"},
    FieldType.DATETIME: {"type": "string", "format": "date-time"},
    FieldType.BOOLEAN: {"type": "boolean"},
    FieldType.USER: {"type": "integer", "description": "The id of a person of the portal."},
    FieldType.URL: {"type": "string", "format": "uri"},
    FieldType.EMAIL: {"type": "string", "format": "email"},
    FieldType.PHONE: {"type": "string", "description": "Stored as E.164, e.g. +48600100200."},
}


def custom_field_schema(field: CustomField) -> dict:
    if field.field_type == FieldType.SELECT:
        schema = {"type": "string", "enum": list(field.options)}
    elif field.field_type == FieldType.MULTISELECT:
        schema = {"type": "array", "items": {"type": "string", "enum": list(field.options)}}
    else:
        schema = dict(_CUSTOM_TYPES.get(field.field_type, {"type": "string"}))
    description = " ".join(part for part in (field.label, schema.pop("description", ""), field.help_text) if part)
    return schema | {"title": field.label, "description": description, "nullable": True}


def _record_serializers() -> dict[str, str]:
    """Component name → record type code of every record serializer."""
    found, pending = {}, list(RecordSerializer.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.entity:
            found[cls.__name__.removesuffix("Serializer")] = cls.entity
    return found


def custom_fields_schema(result, generator, request, public):
    """drf-spectacular postprocessing hook: the ``custom`` object of each record schema lists the
    current portal's active custom fields of that record type, typed."""
    tenant = getattr(connection, "tenant", None)
    if tenant is None or getattr(tenant, "schema_name", "public") == "public":
        return result
    by_entity: dict[str, list[CustomField]] = {}
    for field in CustomField.objects.filter(is_active=True).order_by("entity", "position", "id"):
        by_entity.setdefault(field.entity, []).append(field)
    components = _record_serializers()
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        entity = components.get(name.removeprefix("Patched").removesuffix("Request"))
        properties = schema.get("properties", {})
        if entity is None or "custom" not in properties:
            continue
        fields = by_entity.get(entity, [])
        custom = {"type": "object", "additionalProperties": False,
                  "description": properties["custom"].get("description", ""),
                  "properties": {field.code: custom_field_schema(field) for field in fields}}
        required = [field.code for field in fields if field.required and field.default is None]
        if required and name.endswith("Request") and not name.startswith("Patched"):
            custom["required"] = required
        properties["custom"] = custom
    return result
