"""Reads of portal memberships (always in the active portal's schema)."""

from __future__ import annotations

import hmac

from django.db.models import QuerySet

from identity.accounts.models import User
from identity.members.models import ApiKey, Membership
from identity.members.tokens import token_hash


def is_active_member(user: User) -> bool:
    return Membership.objects.filter(user_id=user.pk, is_active=True).exists()


def membership_of(user: User) -> Membership | None:
    return Membership.objects.select_related("role", "department").filter(user_id=user.pk).first()


def active_members() -> QuerySet[Membership]:
    return Membership.objects.filter(is_active=True).select_related("user").order_by("joined_at")


def count_seats_in_use(tenant) -> int:
    """Active members and pending invitations take a seat; deactivated members free theirs, and a
    partner's access (identity.members.services.grant_partner_access) takes none."""
    from django.utils import timezone
    from django_tenants.utils import tenant_context

    from identity.members.models import Invitation

    with tenant_context(tenant):
        members = Membership.objects.filter(is_active=True, is_partner_access=False).count()
        invitations = Invitation.objects.filter(accepted_at__isnull=True, revoked_at__isnull=True,
                                                expires_at__gt=timezone.now()).count()
    return members + invitations


def api_key_for_token(token: str) -> ApiKey | None:
    """The active key a token belongs to, compared in constant time; None for anything else."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "kp":
        return None
    key = ApiKey.objects.select_related("role").filter(prefix=parts[1], revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.token_hash, token_hash(token)):
        return None
    return key


def active_member_ids() -> set[int]:
    return set(Membership.objects.filter(is_active=True).values_list("pk", flat=True))


def member_label(principal) -> str:
    """How history and timelines name whoever acted: a person's name and e-mail, or the API key."""
    if principal is None:
        return ""
    if isinstance(principal, ApiKey):
        return f"API: {principal.name}"
    user = principal.user
    return f"{user.full_name} <{user.email}>" if user.full_name else user.email
