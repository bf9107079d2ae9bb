"""Every write to a CRM record goes through here: permission, validation, custom fields, history,
soft delete and restore. Domain apps add their rules through ``RecordType.prepare``.

Each function is one transaction: a failed write leaves nothing behind (DESIGN: no partial writes).
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core import history
from crm.core.custom_fields import clean_custom_values
from crm.core.models import ChangeEntry, ChangeKind
from crm.core.registry import RecordType, record_type, record_type_of
from identity.members import permissions
from identity.members.models import Membership

RECYCLE_BIN_DAYS = 30
ALWAYS_READ_ONLY = {"id", "created_at", "created_by", "updated_at", "deleted_at", "deleted_by", "search_text"}


def _writable(rt: RecordType) -> set[str]:
    names = {field.name for field in rt.model._meta.concrete_fields if field.editable}
    return (names | set(rt.m2m_fields) | {"custom"}) - ALWAYS_READ_ONLY - rt.read_only


def _split(rt: RecordType, values: dict) -> tuple[dict, dict | None, dict]:
    unknown = set(values) - _writable(rt)
    if unknown:
        message = _("This field does not exist or cannot be changed.")
        raise ValidationError({name: [message] for name in sorted(unknown)})
    plain = dict(values)
    custom = plain.pop("custom", None)
    many = {name: plain.pop(name) for name in rt.m2m_fields if name in plain}
    return plain, custom, many


def _member(actor) -> Membership | None:
    return actor if isinstance(actor, Membership) else None


def _assign(record: models.Model, values: dict) -> None:
    for name, value in values.items():
        field = record._meta.get_field(name)
        if field.is_relation and not isinstance(value, models.Model) and value is not None:
            setattr(record, field.attname, value)
        else:
            setattr(record, name, value)


def _validate(record: models.Model, rt: RecordType) -> None:
    try:
        record.full_clean(exclude=["search_text"], validate_unique=False)
    except ValidationError as error:
        raise ValidationError(error.message_dict) from None


def _lookups(rt: RecordType, many: dict) -> dict:
    """Many-to-many ids must name existing, live rows of this portal."""
    resolved = {}
    for name, ids in many.items():
        related = rt.model._meta.get_field(name).related_model
        ids = [getattr(item, "pk", item) for item in (ids or [])]
        found = related.objects.filter(pk__in=ids)
        if hasattr(related, "deleted_at"):
            found = found.filter(deleted_at__isnull=True)
        found = list(found)
        if len(found) != len(set(ids)):
            raise ValidationError({name: [_("One or more of the chosen records do not exist.")]})
        resolved[name] = found
    return resolved


def _prepare(rt: RecordType, values: dict, record, actor, custom: dict | None = None) -> dict:
    """The type's rules see the custom values too (a stage may require a custom field given in the
    same write); they come back out of the result, which holds only model fields."""
    if not rt.prepare:
        return values
    prepared = rt.prepare(values | ({"custom": custom} if custom else {}), record, actor)
    prepared.pop("custom", None)
    return prepared


def _names_given(plain: dict, custom: dict | None, many: dict) -> set[str]:
    given = {name for name, value in plain.items() if value not in (None, "", [])}
    given |= {name for name, value in many.items() if value}
    given |= {f"custom.{code}" for code, value in (custom or {}).items() if value not in (None, "", [])}
    return given


def _check_field_rules(actor, code: str, names: set[str]) -> None:
    """Field-level rights (identity): a role may see a field but not change it, or not see it."""
    frozen = sorted(names & permissions.read_only_fields(actor, code))
    if frozen:
        raise permissions.FieldNotEditable(entity_code=code, fields=frozen)


# Record types a person creating one by hand or through the API is warned about duplicates of.
DUPLICATE_CHECKED = {"contact", "company", "lead", "deal"}


@transaction.atomic
def create_record(*, actor, code: str, values: dict, check_duplicates: bool = False) -> models.Model:
    """Create a record of type ``code`` owned by the actor unless another owner is given.

    ``check_duplicates`` (pages and the API, unless the person chose "create anyway") refuses with
    crm.duplicates' PossibleDuplicates when the values look like a record that already exists."""
    rt = record_type(code)
    permissions.require(actor, code, "create", creating=True)
    plain, custom, many = _split(rt, values)
    _check_field_rules(actor, code, _names_given(plain, custom, many))
    if "owner" not in plain and _member(actor):
        plain["owner"] = actor
    record = rt.model(created_by=_member(actor))
    plain = _prepare(rt, plain, None, actor, custom)
    _assign(record, plain)
    record.custom = clean_custom_values(code, custom)
    _validate(record, rt)
    resolved = _lookups(rt, many)
    if check_duplicates and code in DUPLICATE_CHECKED:
        from crm.duplicates.selectors import check_duplicates as refuse_duplicates

        refuse_duplicates(code, values, principal=_member(actor))
    record.save()
    for name, items in resolved.items():
        getattr(record, name).set(items)
    history.record_event(actor=actor, entity=code, record_id=record.pk, kind=ChangeKind.CREATED)
    return record


@transaction.atomic
def update_record(*, actor, record: models.Model, values: dict) -> models.Model:
    """Change some fields; every changed field lands in the history."""
    rt = record_type_of(record)
    locked = rt.model.objects.select_for_update().get(pk=record.pk)
    if locked.deleted_at is not None:
        raise ValidationError(_("This record is in the recycle bin; restore it before changing it."))
    permissions.require(actor, rt.code, "edit", owner=locked.owner)
    plain, custom, many = _split(rt, values)
    before = history.snapshot(locked) | history.snapshot_many(locked, list(many))
    asked_plain = set(plain)
    plain = _prepare(rt, plain, locked, actor, custom)
    _assign(locked, plain)
    if custom is not None:
        locked.custom = clean_custom_values(rt.code, custom, existing=locked.custom)
    _validate(locked, rt)
    resolved = _lookups(rt, many)
    locked.save()
    for name, items in resolved.items():
        getattr(locked, name).set(items)
    after = history.snapshot(locked) | history.snapshot_many(locked, list(many))
    # Only what the caller asked to change, and only if it really changed: forms may send a frozen
    # field back as it was, and a stage move may still update the deal's probability by itself.
    asked = asked_plain | set(many) | {f"custom.{code}" for code in (custom or {})}
    _check_field_rules(actor, rt.code, {name for name in asked if before.get(name, "") != after.get(name, "")})
    history.record_changes(actor=actor, entity=rt.code, record=locked, before=before, after=after)
    return locked


@transaction.atomic
def delete_record(*, actor, record: models.Model) -> models.Model:
    """Move to the recycle bin; purged after RECYCLE_BIN_DAYS unless restored."""
    rt = record_type_of(record)
    locked = rt.model.objects.select_for_update().get(pk=record.pk)
    permissions.require(actor, rt.code, "delete", owner=locked.owner)
    if locked.deleted_at is None:
        locked.deleted_at, locked.deleted_by = timezone.now(), _member(actor)
        locked.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
        history.record_event(actor=actor, entity=rt.code, record_id=locked.pk, kind=ChangeKind.DELETED)
    return locked


@transaction.atomic
def restore_record(*, actor, record: models.Model) -> models.Model:
    rt = record_type_of(record)
    locked = rt.model.objects.select_for_update().get(pk=record.pk)
    permissions.require(actor, rt.code, "delete", owner=locked.owner)
    if locked.deleted_at is not None:
        locked.deleted_at, locked.deleted_by = None, None
        locked.save(update_fields=["deleted_at", "deleted_by", "updated_at"])
        history.record_event(actor=actor, entity=rt.code, record_id=locked.pk, kind=ChangeKind.RESTORED)
    return locked


def _erase(rt: RecordType, record: models.Model) -> None:
    """The record and what only exists because of it: its history, activities and task links."""
    from crm.activities.models import Activity
    from crm.tasks.models import TaskLink

    ChangeEntry.objects.filter(entity=rt.code, record_id=record.pk).delete()
    Activity.objects.filter(entity=rt.code, record_id=record.pk).delete()
    TaskLink.objects.filter(entity=rt.code, record_id=record.pk).delete()
    record.delete()


@transaction.atomic
def purge_record(*, actor, record: models.Model) -> None:
    """Delete for good, only from the recycle bin (DESIGN: permanent only by explicit action)."""
    rt = record_type_of(record)
    locked = rt.model.objects.select_for_update().get(pk=record.pk)
    permissions.require(actor, rt.code, "delete", owner=locked.owner)
    if locked.deleted_at is None:
        raise ValidationError(_("Only records in the recycle bin can be deleted permanently."))
    _erase(rt, locked)


def purge_expired(*, now: datetime.datetime | None = None) -> int:
    """Empty the recycle bin of records deleted more than RECYCLE_BIN_DAYS ago (a daily job)."""
    from crm.core.registry import record_types

    cutoff = (now or timezone.now()) - datetime.timedelta(days=RECYCLE_BIN_DAYS)
    purged = 0
    for rt in record_types():
        for record in rt.model.objects.filter(deleted_at__lt=cutoff).iterator():
            with transaction.atomic():
                _erase(rt, record)
            purged += 1
    return purged


class BulkValidationError(ValidationError):
    """Some items of a bulk write were refused; ``errors`` maps each item's index to its field errors."""

    def __init__(self, errors: dict[int, dict[str, list[str]]]) -> None:
        self.errors = errors
        super().__init__(_("%(count)d of the items were refused; nothing was saved.") % {"count": len(errors)})


def _field_errors(error: ValidationError) -> dict[str, list[str]]:
    return error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}


def _bulk(apply, items: list) -> list:
    """All or nothing: errors are reported per item index and nothing is written."""
    results, errors = [], {}
    with transaction.atomic():
        for index, item in enumerate(items):
            try:
                with transaction.atomic():
                    results.append(apply(item))
            except ValidationError as error:
                errors[index] = _field_errors(error)
        if errors:
            raise BulkValidationError(errors)
    return results


def bulk_create_records(*, actor, code: str, items: list[dict]) -> list[models.Model]:
    return _bulk(lambda values: create_record(actor=actor, code=code, values=values), items)


def bulk_update_records(*, actor, records: list[models.Model], values: dict) -> list[models.Model]:
    return _bulk(lambda record: update_record(actor=actor, record=record, values=values), records)


def bulk_delete_records(*, actor, records: list[models.Model]) -> list[models.Model]:
    return _bulk(lambda record: delete_record(actor=actor, record=record), records)


IDEMPOTENCY_KEY_HOURS = 24


def forget_old_idempotency_keys(*, now: datetime.datetime | None = None) -> int:
    """A retry comes within minutes; a day later the same key may be reused for a new request."""
    from crm.core.models import IdempotencyKey

    cutoff = (now or timezone.now()) - datetime.timedelta(hours=IDEMPOTENCY_KEY_HOURS)
    deleted, _by_model = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
