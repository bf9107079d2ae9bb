"""Merging duplicates: one record is kept, the others give it the values the user picked and every
relation they had, then go to the recycle bin. One transaction: a refused merge changes nothing.

Relations are found generically, so a new app's foreign keys are covered without changes here:

- foreign keys and many-to-many fields of other models pointing at the record type (contact.company,
  lead.contact, deal.company, deal.lead, deal.contacts, later quotes and invoices): the model's
  reverse relations (``_meta.get_fields``), soft-deleted rows included;
- rows attached by ``(entity, record_id)`` in any CRM app (task links, activities, history lines):
  every model of a ``crm.*`` app with both fields.
"""

from __future__ import annotations

import uuid

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _

from crm.core import history, services
from crm.core.custom_fields import definitions
from crm.core.models import ChangeEntry, ChangeKind
from crm.core.registry import RecordType, record_type, record_type_of
from crm.duplicates.selectors import SUPPORTED
from identity.members import permissions
from identity.members.models import Membership
from identity.members.selectors import member_label

COMBINE = "combine"
MAX_MERGED = 5
# Bookkeeping columns nobody picks in the wizard.
NOT_MERGED = {"id", "created_at", "created_by", "updated_at", "deleted_at", "deleted_by", "search_text", "custom",
              "board_position", "stage_changed_at", "closed_at", "converted_at", "is_repeat"}
LIST_FIELDS = {"emails", "phones", "tags"}


def mergeable_fields(rt: RecordType) -> list[models.Field]:
    """The built-in fields the user picks a value for, in the model's order (many-to-many last)."""
    fields = [field for field in rt.model._meta.concrete_fields
              if field.editable and field.name not in NOT_MERGED and field.name not in rt.read_only]
    fields += [rt.model._meta.get_field(name) for name in rt.m2m_fields]
    return fields


def combinable(rt: RecordType, name: str) -> bool:
    return name in LIST_FIELDS or name in rt.m2m_fields


def _value_of(record: models.Model, field: models.Field):
    if field.many_to_many:
        return sorted(item.pk for item in getattr(record, field.name).all())
    if field.is_relation:
        return getattr(record, field.attname)
    value = getattr(record, field.name)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value.__class__.__name__ == "Decimal":
        return str(value)
    return value


def _combined(name: str, lists: list) -> list:
    if name in ("emails", "phones"):
        seen, items = set(), []
        for item in (entry for values in lists for entry in (values or [])):
            if item.get("value") not in seen:
                seen.add(item.get("value"))
                items.append(item)
        return items
    return list(dict.fromkeys(item for values in lists for item in (values or [])))


def merged_values(rt: RecordType, keep: models.Model, others: list[models.Model], choices: dict) -> dict:
    """The values the kept record takes: for each field the value of the chosen record (its id in
    ``choices``) or, for lists, ``"combine"`` (all of them, the kept record's first)."""
    by_id = {str(record.pk): record for record in [keep, *others]}
    values: dict = {}
    custom: dict = {}
    fields = {field.name: field for field in mergeable_fields(rt)}
    custom_codes = {definition.code for definition in definitions(rt.code)}
    for name, choice in (choices or {}).items():
        choice = str(choice)
        if name.startswith("custom."):
            code = name.removeprefix("custom.")
            if code not in custom_codes:
                raise ValidationError({name: [_("This field does not exist or cannot be changed.")]})
            source = by_id.get(choice)
            if source is None:
                raise ValidationError({name: [_("Choose one of the merged records.")]})
            if source is not keep and (source.custom or {}).get(code) != (keep.custom or {}).get(code):
                custom[code] = (source.custom or {}).get(code)
            continue
        field = fields.get(name)
        if field is None:
            raise ValidationError({name: [_("This field does not exist or cannot be changed.")]})
        if choice == COMBINE and combinable(rt, name):
            value = _combined(name, [_value_of(record, field) for record in [keep, *others]])
        elif choice in by_id:
            value = _value_of(by_id[choice], field)
        else:
            raise ValidationError({name: [_("Choose one of the merged records.")]})
        if value != _value_of(keep, field):
            values[name] = value
    if custom:
        values["custom"] = custom
    return values


def _attached_models() -> list[type[models.Model]]:
    """Models of the CRM apps that attach rows to any record by (entity, record_id)."""
    found = []
    for model in apps.get_models():
        if not model.__module__.startswith("crm."):
            continue
        names = {field.name for field in model._meta.concrete_fields}
        if {"entity", "record_id"} <= names:
            found.append(model)
    return found


def _move_rows(queryset: models.QuerySet, **change) -> None:
    """UPDATE at once; when a unique constraint refuses (the row already exists for the kept record,
    e.g. a task linked to both), row by row, dropping only the rows that would be duplicates."""
    try:
        with transaction.atomic():
            queryset.update(**change)
    except IntegrityError:
        for row in list(queryset):
            try:
                with transaction.atomic():
                    type(row)._base_manager.filter(pk=row.pk).update(**change)
            except IntegrityError:
                row.delete()


def _history_lines(actor, related: type[models.Model], field_name: str, pairs, names: dict[int, str],
                   keep: models.Model, rt: RecordType) -> list[ChangeEntry]:
    """A line in the history of each related record (a deal, a lead…) whose link moved: old → kept name."""
    try:
        related_type = record_type_of(related())
    except LookupError:
        return []
    actor_id = actor.pk if isinstance(actor, Membership) else None
    label, kept_name = member_label(actor), str(rt.title(keep))
    return [ChangeEntry(entity=related_type.code, record_id=record_id, kind=ChangeKind.UPDATED, field=field_name,
                        old_value=names.get(other_id, ""), new_value=kept_name, actor_id=actor_id, actor_label=label,
                        batch=batch) for batch in [uuid.uuid4()] for record_id, other_id in pairs]


def repoint_relations(rt: RecordType, keep: models.Model, other_ids: list[int], *, actor=None,
                      names: dict[int, str] | None = None) -> dict[str, int]:
    """Every row that points at one of ``other_ids`` points at ``keep`` afterwards, with a history line
    on each related record; returns counts per relation (for the tests)."""
    moved: dict[str, int] = {}
    lines: list[ChangeEntry] = []
    names = names or {}
    for relation in rt.model._meta.get_fields(include_hidden=True):
        if not (relation.is_relation and relation.auto_created and not relation.concrete):
            continue
        related = relation.related_model
        if relation.many_to_many:
            # A many-to-many field of another model (deal.contacts): its link rows.
            through = relation.through
            to_us = relation.field.m2m_reverse_field_name()
            to_them = relation.field.m2m_field_name()
            rows = through._base_manager.filter(**{f"{to_us}__in": other_ids})
            already = through._base_manager.filter(**{to_us: keep.pk}).values(to_them)
            pairs = list(rows.values_list(f"{to_them}_id", f"{to_us}_id"))
            moved[relation.name] = len(pairs)
            lines += _history_lines(actor, related, relation.field.name, pairs, names, keep, rt)
            rows.filter(**{f"{to_them}__in": already}).delete()  # linked to both: keep one link
            rows.update(**{to_us: keep.pk})
        elif related._meta.auto_created:
            continue  # the link table of one of our own many-to-many fields: the chosen values decide
        else:
            name = relation.field.name
            rows = related._base_manager.filter(**{f"{name}__in": other_ids})
            if relation.one_to_one and related._base_manager.filter(**{name: keep.pk}).exists():
                continue
            pairs = list(rows.values_list("pk", relation.field.attname))
            moved[relation.name] = len(pairs)
            lines += _history_lines(actor, related, name, pairs, names, keep, rt)
            _move_rows(rows, **{name: keep.pk})
    for model in _attached_models():
        rows = model._base_manager.filter(entity=rt.code, record_id__in=other_ids)
        moved[model._meta.model_name] = rows.count()
        _move_rows(rows, record_id=keep.pk)
    ChangeEntry.objects.bulk_create(lines)  # after the history lines of the others moved to the kept record
    return moved


@transaction.atomic
def merge_records(*, actor, code: str, keep, others: list, choices: dict | None = None) -> models.Model:
    """Merge ``others`` into ``keep`` (records or ids of type ``code``). Needs the right to edit the kept
    record and to delete the others. Returns the kept record, changed."""
    if code not in SUPPORTED:
        raise ValidationError(_("These records cannot be merged."))
    rt = record_type(code)
    keep_id = getattr(keep, "pk", keep)
    other_ids = list(dict.fromkeys(getattr(other, "pk", other) for other in others))
    if not other_ids or keep_id in other_ids:
        raise ValidationError(_("Choose the record to keep and at least one other record."))
    if len(other_ids) >= MAX_MERGED:
        raise ValidationError(_("Merge at most %(count)d records at a time.") % {"count": MAX_MERGED})
    locked = {record.pk: record for record in
              rt.model.objects.select_for_update().filter(pk__in=[keep_id, *other_ids])}
    if len(locked) != len(other_ids) + 1 or any(record.deleted_at for record in locked.values()):
        raise ValidationError(_("One or more of the records do not exist or are in the recycle bin."))
    kept, merged = locked[keep_id], [locked[pk] for pk in other_ids]
    permissions.require(actor, code, "edit", owner=kept.owner)
    for record in merged:
        permissions.require(actor, code, "delete", owner=record.owner)
    values = merged_values(rt, kept, merged, choices or {})
    names = ", ".join(f"{rt.title(record)} (#{record.pk})" for record in merged)
    repoint_relations(rt, kept, other_ids, actor=actor,
                      names={record.pk: str(rt.title(record)) for record in merged})
    if values:
        kept = services.update_record(actor=actor, record=kept, values=values)
    for record in merged:
        services.delete_record(actor=actor, record=record)
        history.record_event(actor=actor, entity=code, record_id=record.pk, kind=ChangeKind.MERGED,
                             note=_("Merged into %(name)s (#%(id)s)") % {"name": rt.title(kept), "id": kept.pk})
    history.record_event(actor=actor, entity=code, record_id=kept.pk, kind=ChangeKind.MERGED,
                         note=_("Merged with %(names)s") % {"names": names})
    return rt.model.objects.get(pk=kept.pk)
