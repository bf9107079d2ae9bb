"""Writes to portal memberships; run inside the portal's schema."""

from __future__ import annotations

from django.db import connection, transaction

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
    """Add the account to this portal, or reactivate its membership (idempotent)."""
    _require_portal_schema()
    membership, _ = Membership.objects.update_or_create(
        user=user, defaults={"is_active": True, "is_admin": is_admin})
    return membership
