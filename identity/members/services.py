"""Writes to portal memberships; run inside the portal's schema."""

from __future__ import annotations

import secrets

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import limits
from billing.models import Resource
from identity.accounts.models import PortalAccess, User
from identity.members.models import ApiKey, Department, Membership, Role
from identity.members.tokens import new_token, token_hash

DEFAULT_MEMBER_ROLE = "salesperson"


def _record_portal_access(user: User, *, is_active: bool) -> None:
    PortalAccess.objects.update_or_create(user=user, tenant_id=connection.tenant.pk,
                                          defaults={"is_active": is_active})


def add_owner(*, user: User) -> Membership:
    """Make the account the portal's owner and administrator (idempotent)."""
    _require_portal_schema()
    with transaction.atomic():
        membership, _ = Membership.objects.update_or_create(
            user=user, defaults={"is_owner": True, "is_admin": True, "is_active": True, "is_partner_access": False,
                                 "role": Role.objects.filter(code="administrator").first()})
        _record_portal_access(user, is_active=True)
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
            defaults = {"is_active": True, "is_admin": is_admin}
            if existing is None or existing.role_id is None:
                defaults["role"] = Role.objects.filter(code=DEFAULT_MEMBER_ROLE).first()
            membership, _ = Membership.objects.update_or_create(user=user, defaults=defaults)
            _record_portal_access(user, is_active=True)
    return membership


def deactivate_member(*, membership: Membership) -> Membership:
    """Deactivate: the data stays, the seat is freed, sessions end at the next request."""
    _require_portal_schema()
    if membership.is_owner:
        raise ValidationError({"membership": _("The portal's owner cannot be deactivated; transfer the ownership "
                                               "first.")})
    with transaction.atomic():
        membership.is_active = False
        membership.save(update_fields=["is_active"])
        _record_portal_access(membership.user, is_active=False)
    return membership


def grant_partner_access(*, user: User) -> Membership | None:
    """Let a partner's member manage this portal as an administrator (kompas.partners).

    Partner access takes no seat: the client pays for its own people, not for its agency. A
    person who already is an active member in their own right keeps that membership untouched
    (None is returned), so revoking the partner's access never removes them.
    """
    _require_portal_schema()
    with transaction.atomic():
        existing = Membership.objects.select_for_update().filter(user=user).first()
        if existing is not None and existing.is_active and not existing.is_partner_access:
            return None
        membership, _ = Membership.objects.update_or_create(user=user, defaults={
            "is_active": True, "is_admin": False, "is_owner": False, "is_partner_access": True,
            "role": Role.objects.filter(code="administrator").first()})
        _record_portal_access(user, is_active=True)
    return membership


def revoke_partner_access(*, users: list[User] | None = None) -> list[Membership]:
    """Deactivate the partner-access memberships (all, or those of ``users``) and end their sessions."""
    from identity.members.security import end_sessions

    _require_portal_schema()
    with transaction.atomic():
        memberships = Membership.objects.select_for_update().select_related("user").filter(
            is_partner_access=True, is_active=True)
        if users is not None:
            memberships = memberships.filter(user__in=users)
        revoked = list(memberships)
        for membership in revoked:
            membership.is_active = False
            membership.save(update_fields=["is_active"])
            _record_portal_access(membership.user, is_active=False)
            end_sessions(user_id=membership.user_id)
    return revoked


def create_department(*, name: str, parent: Department | None = None, head: Membership | None = None) -> Department:
    if not (name or "").strip():
        raise ValidationError({"name": _("Please enter the department's name.")})
    with transaction.atomic():
        department = Department.objects.create(name=name.strip(), parent=parent, head=head)
        department.path = f"{parent.path if parent else '/'}{department.pk}/"
        department.save(update_fields=["path"])
    return department


def move_department(*, department: Department, parent: Department | None) -> Department:
    """Re-parent a department and its whole subtree; refuses to make it its own descendant."""
    if parent is not None and parent.path.startswith(department.path):
        raise ValidationError({"parent": _("A department cannot be moved under itself or one of its "
                                           "sub-departments.")})
    with transaction.atomic():
        old_prefix = department.path
        new_prefix = f"{parent.path if parent else '/'}{department.pk}/"
        subtree = Department.objects.select_for_update().filter(path__startswith=old_prefix)
        for node in subtree:
            node.path = new_prefix + node.path[len(old_prefix):]
            if node.pk == department.pk:
                node.parent = parent
            node.save(update_fields=["path", "parent"])
    department.refresh_from_db()
    return department


def assign(*, membership: Membership, role: Role | None = None, department: Department | None = None) -> Membership:
    """Give a member a role and/or a department."""
    fields = []
    if role is not None:
        membership.role = role
        fields.append("role")
    if department is not None:
        membership.department = department
        fields.append("department")
    if fields:
        membership.save(update_fields=fields)
    return membership


def create_api_key(*, name: str, role: Role, created_by: Membership | None) -> tuple[ApiKey, str]:
    """A new key and its token; the token is returned once and never stored."""
    if not (name or "").strip():
        raise ValidationError({"name": _("Please name the key after what will use it, e.g. “Website form”.")})
    prefix = secrets.token_hex(6)
    token = f"kp_{prefix}_{new_token()}"
    key = ApiKey.objects.create(name=name.strip(), prefix=prefix, token_hash=token_hash(token), role=role,
                                created_by=created_by)
    return key, token


def revoke_api_key(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def touch_api_key(*, key: ApiKey) -> None:
    """Record use at most once a minute: a busy integration should not write on every call."""
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
