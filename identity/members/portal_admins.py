"""Who hears about a portal's lifecycle moves: its owner and administrators (tenants.transitions asks)."""

from __future__ import annotations

from django.db.models import Q
from django_tenants.utils import schema_context

from identity.members.models import Membership
from tenants.models import Tenant
from tenants.signals import portal_admins_requested


def admin_emails(tenant: Tenant) -> list[str]:
    """Active owner and administrators (by flag or by role) of ``tenant``, read in its own schema."""
    with schema_context(tenant.schema_name):
        return list(Membership.objects.filter(is_active=True, user__is_active=True)
                    .filter(Q(is_owner=True) | Q(is_admin=True) | Q(role__is_administrator=True))
                    .order_by("-is_owner", "pk").values_list("user__email", flat=True))


def _answer(sender, *, tenant: Tenant, **kwargs) -> list[str]:
    return admin_emails(tenant)


def connect_signals() -> None:
    portal_admins_requested.connect(_answer, dispatch_uid="identity.members.portal_admins")
