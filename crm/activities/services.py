"""Logging calls, meetings, notes and comments on a record. Whoever may read a record may add an
activity to it and change their own; the record's editors may change anyone's."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.activities.models import Activity, ActivityKind
from crm.core.selectors import record_for
from identity.members import permissions
from identity.members.models import Membership
from tenants import modules

EDITABLE = ("subject", "body", "direction", "starts_at", "ends_at", "location", "outcome", "is_done")


def _check(activity: Activity) -> None:
    if activity.kind in (ActivityKind.NOTE, ActivityKind.COMMENT) and not activity.body.strip():
        raise ValidationError({"body": [_("Write something.")]})
    if activity.kind in (ActivityKind.CALL, ActivityKind.MEETING) and not activity.starts_at:
        raise ValidationError({"starts_at": [_("Give the date and time.")]})
    if activity.starts_at and activity.ends_at and activity.ends_at < activity.starts_at:
        raise ValidationError({"ends_at": [_("The end cannot be before the start.")]})
    try:
        activity.full_clean(exclude=["author"])
    except ValidationError as error:
        raise ValidationError(error.message_dict) from None


@transaction.atomic
def add_activity(*, actor, entity: str, record_id, kind: str, **values) -> Activity:
    if kind in modules.ACTIVITY_KINDS:
        modules.require("activities")  # calls and meetings switched off in this portal: 404 saying so
    record = record_for(actor, entity, record_id)
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise ValidationError({name: [_("This field does not exist or cannot be changed.")] for name in unknown})
    activity = Activity(kind=kind, entity=entity, record_id=record.pk,
                        author=actor if isinstance(actor, Membership) else None, **values)
    _check(activity)
    activity.save()
    return activity


def _may_change(actor, activity: Activity) -> bool:
    if isinstance(actor, Membership) and activity.author_id == actor.pk:
        return True
    record = record_for(actor, activity.entity, activity.record_id)
    return permissions.can(actor, activity.entity, "edit", owner=record.owner)


@transaction.atomic
def update_activity(*, actor, activity: Activity, **values) -> Activity:
    if not _may_change(actor, activity):
        raise permissions.NotPermitted(entity_code=activity.entity, action="edit")
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise ValidationError({name: [_("This field does not exist or cannot be changed.")] for name in unknown})
    for name, value in values.items():
        setattr(activity, name, value)
    _check(activity)
    activity.save()
    return activity


@transaction.atomic
def delete_activity(*, actor, activity: Activity) -> None:
    if not _may_change(actor, activity):
        raise permissions.NotPermitted(entity_code=activity.entity, action="edit")
    activity.deleted_at = timezone.now()
    activity.save(update_fields=["deleted_at", "updated_at"])
