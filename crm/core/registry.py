"""The CRM's record types, registered by the domain apps when Django starts.

One registry tells history, search, filters, the recycle bin, the API and the permission layer
what a "deal" or a "contact" is, so none of them keeps its own list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import models

from identity.members import permissions


@dataclass(frozen=True)
class RecordType:
    code: str  # the permission layer's entity code: "contact", "deal", …
    model: type[models.Model]
    slug: str = ""  # in addresses: /crm/<slug>/ ("contacts", "companies"); code + "s" when empty
    # Fields shown as a record's title and subtitle (search results, timelines, links).
    title: Callable[[models.Model], str] = str
    subtitle: Callable[[models.Model], str] = lambda record: ""
    # Columns a list shows when nobody chose any, and its default sort.
    default_columns: tuple[str, ...] = ()
    default_ordering: tuple[str, ...] = ("-created_at", "-id")
    # Fields never written through the generic services (computed or owned by a workflow).
    read_only: frozenset[str] = field(default_factory=frozenset)
    # Many-to-many fields the generic services write with ``set()`` after saving.
    m2m_fields: tuple[str, ...] = ()
    # Normalises incoming values and applies the entity's rules; raises ValidationError by field.
    # Called as prepare(values, record_or_None, actor) and returns the values to assign.
    prepare: Callable[[dict, models.Model | None, object], dict] | None = None
    # Narrows what a principal may reach beyond the owner scope (deals: per-pipeline access).
    access_q: Callable[[object], models.Q] | None = None
    # Related rows a list or a record page always shows, loaded in the same query.
    select_related: tuple[str, ...] = ("owner__user",)

    @property
    def url_slug(self) -> str:
        return self.slug or f"{self.code}s"

    @property
    def label(self):
        return self.model._meta.verbose_name

    @property
    def label_plural(self):
        return self.model._meta.verbose_name_plural


_types: dict[str, RecordType] = {}


def register(record_type: RecordType) -> RecordType:
    _types[record_type.code] = record_type
    model = record_type.model._meta
    permissions.register_entity(record_type.code, model.verbose_name_plural,
                                model=f"{model.app_label}.{model.object_name}",
                                fields=lambda: rule_fields(record_type))
    return record_type


# Bookkeeping columns that no field rule applies to (the record's identity and lifecycle).
NOT_RULED = {"id", "created_at", "updated_at", "deleted_at", "deleted_by", "created_by", "search_text", "custom",
             "board_position", "owner"}


def rule_fields(rt: RecordType) -> list[tuple[str, str]]:
    """Fields a role's field rules can hide or freeze: built-in ones, then the portal's custom fields."""
    from crm.core.models import CustomField

    fields = [(field.name, str(field.verbose_name)) for field in rt.model._meta.get_fields()
              if getattr(field, "concrete", False) and field.editable and field.name not in NOT_RULED]
    fields += [(f"custom.{code}", label) for code, label in
               CustomField.objects.filter(entity=rt.code).values_list("code", "label")]
    return fields


def record_type(code: str) -> RecordType:
    try:
        return _types[code]
    except KeyError:
        raise LookupError(f"unknown record type {code!r}") from None


def record_type_of(record: models.Model) -> RecordType:
    for candidate in _types.values():
        if isinstance(record, candidate.model):
            return candidate
    raise LookupError(f"{type(record).__name__} is not a registered record type")


def record_type_for_slug(slug: str) -> RecordType:
    for candidate in _types.values():
        if candidate.url_slug == slug:
            return candidate
    raise LookupError(f"no record type at /crm/{slug}/")


def record_types() -> list[RecordType]:
    return list(_types.values())
