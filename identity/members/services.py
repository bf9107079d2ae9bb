"""Writes to portal memberships; run inside the portal's schema."""

from __future__ import annotations

from django.db import connection, transaction

from billing import limits
from billing.models import Resource
from identity.accounts.models import User
from identity.members.models import Membership


def add_owner(*, user: User) -> Membership:
    """Make the account the portal's owner and administrator (idempotent)."""
    _require_portal_schema()
    with transaction.atomic():
        membership, _ = Membership.objects.update_or_create(
            user=user, defaults={"is_owner": True, "is_admin": True, "is_active": True})
    return membership


def _require_portal_schema() -> None:
    if connection.schema_name == "public":
        raise RuntimeError("Memberships live in a portal's schema; activate the portal first.")


def add_member(*, user: User, is_admin: bool = False) -> Membership:
    """Add the account to this portal, or reactivate it; takes a seat, exactly within the plan."""
    _require_portal_schema()
    with transaction.atomic():
        existing = Membership.objects.select_for_update().filter(user=user).first()
        if existing is not None and existing.is_active:
            return existing
        with limits.admit(connection.tenant, Resource.SEATS):
            membership, _ = Membership.objects.update_or_create(
                user=user, defaults={"is_active": True, "is_admin": is_admin})
    return membership
