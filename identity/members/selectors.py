"""Reads of portal memberships (always in the active portal's schema)."""

from __future__ import annotations

from django.db.models import QuerySet

from identity.accounts.models import User
from identity.members.models import Membership


def is_active_member(user: User) -> bool:
    return Membership.objects.filter(user_id=user.pk, is_active=True).exists()


def membership_of(user: User) -> Membership | None:
    return Membership.objects.select_related("role", "department").filter(user_id=user.pk).first()


def active_members() -> QuerySet[Membership]:
    return Membership.objects.filter(is_active=True).select_related("user").order_by("joined_at")


def count_seats_in_use(tenant) -> int:
    """Active members take a seat; deactivated ones free theirs (data is kept)."""
    from django_tenants.utils import tenant_context

    with tenant_context(tenant):
        return Membership.objects.filter(is_active=True).count()
