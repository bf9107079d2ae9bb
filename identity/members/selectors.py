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
    """Active members and pending invitations take a seat; deactivated members free theirs."""
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from identity.members.models import Invitation

    with tenant_context(tenant):
        members = Membership.objects.filter(is_active=True).count()
        invitations = Invitation.objects.filter(accepted_at__isnull=True, revoked_at__isnull=True,
                                                expires_at__gt=timezone.now()).count()
    return members + invitations
