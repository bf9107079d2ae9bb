"""Every change to a CRM record, field by field: who, when, old → new (DESIGN: product rules).

``snapshot`` reads a record's tracked values as text; ``record_changes`` writes one history line per
field that differs between two snapshots. Custom fields appear as ``custom.<code>``.
"""

from __future__ import annotations

import datetime
import uuid

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone

from crm.core.models import ChangeEntry, ChangeKind, CustomField
from identity.members.selectors import member_label

UNTRACKED = {"id", "created_at", "updated_at", "deleted_at", "deleted_by", "created_by", "search_text", "custom",
             "board_position", "stage_changed_at"}


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_as_text(item.get("value") if isinstance(item, dict) else item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.datetime):
        # In the portal's time zone (active for the request or job), to the minute: what people read.
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if timezone.is_aware(value) else (
            value.strftime("%Y-%m-%d %H:%M"))
    if isinstance(value, models.Model):
        return str(value)
    return str(value)


def tracked_fields(record: models.Model) -> list[models.Field]:
    return [field for field in record._meta.concrete_fields if field.name not in UNTRACKED]


def snapshot(record: models.Model) -> dict[str, str]:
    values: dict[str, str] = {}
    for field in tracked_fields(record):
        if field.is_relation:
            related_id = getattr(record, field.attname)
            values[field.name] = str(getattr(record, field.name)) if related_id else ""
        elif field.choices:
            values[field.name] = str(getattr(record, f"get_{field.name}_display")())
        else:
            values[field.name] = _as_text(getattr(record, field.name))
    for code, value in (getattr(record, "custom", None) or {}).items():
        values[f"custom.{code}"] = _as_text(value)
    return values


def snapshot_many(record: models.Model, names: list[str]) -> dict[str, str]:
    """Many-to-many fields (deal contacts, task participants) as a sorted list of names."""
    return {name: ", ".join(sorted(str(item) for item in getattr(record, name).all())) for name in names}


def _labels(record: models.Model, entity: str) -> dict[str, str]:
    """Custom field names as they were, so the line still reads well after the field is gone.
    Built-in fields are labelled when shown, in the reader's language (``field_label_of``)."""
    return {f"custom.{code}": label for code, label in
            CustomField.objects.filter(entity=entity).values_list("code", "label")}


def field_label_of(entry: ChangeEntry) -> str:
    from crm.core.registry import record_type

    if entry.field_label or not entry.field:
        return entry.field_label
    try:
        return str(record_type(entry.entity).model._meta.get_field(entry.field).verbose_name)
    except (LookupError, FieldDoesNotExist):
        return entry.field


def record_changes(*, actor, entity: str, record: models.Model, before: dict[str, str], after: dict[str, str],
                   kind: str = ChangeKind.UPDATED) -> list[ChangeEntry]:
    changed = [name for name in after.keys() | before.keys() if before.get(name, "") != after.get(name, "")]
    if not changed:
        return []
    labels, batch, label = _labels(record, entity), uuid.uuid4(), member_label(actor)
    actor_id = actor.pk if actor is not None and not _is_api_key(actor) else None
    entries = [ChangeEntry(entity=entity, record_id=record.pk, kind=kind, field=name,
                           field_label=labels.get(name, ""), old_value=before.get(name, ""),
                           new_value=after.get(name, ""), actor_id=actor_id, actor_label=label, batch=batch)
               for name in sorted(changed)]
    return ChangeEntry.objects.bulk_create(entries)


def record_event(*, actor, entity: str, record_id: int, kind: str, note: str = "") -> ChangeEntry:
    """A change that is not a field edit: created, deleted, restored, merged, converted."""
    return ChangeEntry.objects.create(entity=entity, record_id=record_id, kind=kind, new_value=note,
                                      actor_id=actor.pk if actor is not None and not _is_api_key(actor) else None,
                                      actor_label=member_label(actor))


def _is_api_key(actor) -> bool:
    from identity.members.models import ApiKey

    return isinstance(actor, ApiKey)
