"""Handing a person's records to a colleague, e.g. when they leave (identity issue: deactivate keeps
the data and frees the seat; this moves the work). One UPDATE per record type, and a history line
on every record moved, in one transaction."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from crm.core.models import ChangeEntry, ChangeKind
from crm.core.registry import record_type, record_types
from identity.members import permissions
from identity.members.models import Membership
from identity.members.selectors import member_label


def records_owned_by(member: Membership) -> dict[str, int]:
    """Live records per type the person owns (what the hand-over page offers to move)."""
    return {rt.code: rt.model.objects.alive().filter(owner=member).aggregate(n=Count("pk"))["n"]
            for rt in record_types()}


@transaction.atomic
def reassign_records(*, actor, from_member: Membership, to_member: Membership,
                     codes: list[str] | None = None, open_only: bool = False) -> dict[str, int]:
    """Give ``from_member``'s records of the chosen types to ``to_member``. Administrators only.
    ``open_only`` leaves closed deals, converted or junk leads and finished tasks with their
    original owner, so reports of who won what stay true."""
    if not getattr(actor, "has_admin_rights", False):
        raise permissions.NotPermitted(entity_code="member", action="edit")
    if from_member.pk == to_member.pk:
        raise ValidationError({"to_member": [_("Choose someone else to take over the records.")]})
    if not to_member.is_active:
        raise ValidationError({"to_member": [_("The person taking over must be an active member.")]})
    moved: dict[str, int] = {}
    batch, label = uuid.uuid4(), member_label(actor)
    for code in codes or [rt.code for rt in record_types()]:
        rt = record_type(code)
        rows = rt.model.objects.alive().filter(owner=from_member)
        if open_only:
            rows = rows.exclude(**_closed_lookup(code)) if _closed_lookup(code) else rows
        ids = list(rows.values_list("pk", flat=True))
        ChangeEntry.objects.bulk_create([
            ChangeEntry(entity=code, record_id=pk, kind=ChangeKind.UPDATED, field="owner", old_value=str(from_member),
                        new_value=str(to_member), actor=actor if isinstance(actor, Membership) else None,
                        actor_label=label, batch=batch) for pk in ids], batch_size=1000)
        moved[code] = rt.model.objects.filter(pk__in=ids).update(owner=to_member)
    return moved


def _closed_lookup(code: str) -> dict:
    return {"deal": {"closed_at__isnull": False}, "lead": {"status__in": ["converted", "junk"]},
            "task": {"status__in": ["completed", "rejected"]}}.get(code, {})
