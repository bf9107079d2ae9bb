"""Writing the platform audit log (tenants.models.AuditEvent); reads live in tenants.selectors."""

from __future__ import annotations

from typing import Any

from tenants.models import AuditEvent, Partner, Tenant


def record(*, action: str, tenant: Tenant | None = None, actor=None, actor_kind: str | None = None,
           reason: str = "", partner: Partner | None = None, ip: str | None = None,
           **details: Any) -> AuditEvent:
    """One audit line. ``actor`` None means the system (a job, a Stripe event)."""
    if actor_kind is None:
        actor_kind = AuditEvent.ActorKind.SYSTEM if actor is None else (
            AuditEvent.ActorKind.STAFF if getattr(actor, "is_staff", False) else AuditEvent.ActorKind.TENANT)
    return AuditEvent.objects.create(
        action=action, tenant=tenant, tenant_label=_tenant_label(tenant), partner=partner,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=getattr(actor, "email", "") or "", actor_kind=actor_kind,
        reason=(reason or "")[:500], details=details, ip=ip,
    )


def _tenant_label(tenant: Tenant | None) -> str:
    if tenant is None:
        return ""
    return f"{tenant.name} ({tenant.slug or tenant.schema_name})"[:300]
