"""Reads for the staff console: the portal list with its filters, one portal's overview, the audit log."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing import limits
from billing.models import Resource
from billing.selectors import FREE_PLAN_CODE, subscription_of
from identity.accounts.models import PortalAccess
from identity.members.selectors import active_members
from kompas.staff.models import ImpersonationGrant
from tenants.models import AuditEvent, Domain, Impersonation, Signup, Tenant
from tenants.selectors import portals

STORAGE_CACHE_SECONDS = 600
# Walking a bucket is slow; past this many files the figure is shown as "at least".
STORAGE_MAX_FILES = 5000


@dataclass(frozen=True)
class TenantFilters:
    q: str = ""
    status: str = ""
    plan: str = ""
    partner: str = ""  # a partner's id, "none" for portals without one
    created_from: date | None = None
    created_to: date | None = None


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def tenant_list(filters: TenantFilters) -> QuerySet[Tenant]:
    """Every customer portal matching the filters, newest first, with what the list shows in one query.

    ``members`` counts active people with access (identity keeps PortalAccess in the public schema
    in step with the memberships), so the list needs no query per portal schema.
    """
    active_access = (PortalAccess.objects.filter(tenant_id=OuterRef("pk"), is_active=True).order_by()
                     .values("tenant_id").annotate(count=Count("pk")).values("count"))
    queryset = (portals().select_related("partner", "subscription__plan")
                .annotate(members=Coalesce(Subquery(active_access), 0))
                .order_by("-created_at", "-pk"))
    if filters.q:
        term = filters.q.strip()
        # Owner and member e-mails: people with access, and whoever signed the portal up.
        by_email = Q(pk__in=PortalAccess.objects.filter(user__email__icontains=term).values("tenant_id")) | Q(
            pk__in=Signup.objects.filter(email__icontains=term, tenant__isnull=False).values("tenant_id"))
        by_domain = Q(pk__in=Domain.objects.filter(domain__icontains=term).values("tenant_id"))
        queryset = queryset.filter(Q(name__icontains=term) | Q(slug__icontains=term) | by_domain | by_email)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.plan == FREE_PLAN_CODE:
        queryset = queryset.filter(Q(subscription__isnull=True) | Q(subscription__plan__code=FREE_PLAN_CODE))
    elif filters.plan:
        queryset = queryset.filter(subscription__plan__code=filters.plan)
    if filters.partner == "none":
        queryset = queryset.filter(partner__isnull=True)
    elif filters.partner:
        queryset = queryset.filter(partner_id=filters.partner)
    if filters.created_from:
        queryset = queryset.filter(created_at__gte=_day_start(filters.created_from))
    if filters.created_to:
        queryset = queryset.filter(created_at__lt=_day_start(filters.created_to) + timezone.timedelta(days=1))
    return queryset


def seat_limit(tenant: Tenant) -> int | None:
    """The seat limit from the subscription already loaded with the list (no query)."""
    subscription = getattr(tenant, "subscription", None) if _has_subscription(tenant) else None
    if subscription is None:
        return None
    return subscription.plan.limit(Resource.SEATS, seats_bought=subscription.seats)


def _has_subscription(tenant: Tenant) -> bool:
    try:
        return tenant.subscription is not None
    except Tenant.subscription.RelatedObjectDoesNotExist:
        return False


@dataclass
class TenantOverview:
    tenant: Tenant
    subscription: object
    usage: list
    domains: list
    members: list
    member_count: int
    storage_bytes: int
    storage_complete: bool
    events: list
    impersonations: list = field(default_factory=list)


def tenant_overview(tenant: Tenant) -> TenantOverview:
    with tenant_context(tenant):
        members = list(active_members())
    storage_bytes, complete = storage_used(tenant)
    return TenantOverview(
        tenant=tenant,
        subscription=subscription_of(tenant),
        usage=limits.usage_report(tenant),
        domains=list(Domain.objects.filter(tenant=tenant).order_by("-is_primary", "domain")),
        members=members,
        member_count=len(members),
        storage_bytes=storage_bytes,
        storage_complete=complete,
        events=list(AuditEvent.objects.filter(tenant=tenant).select_related("actor")[:20]),
        impersonations=list(impersonations_of(tenant)[:10]),
    )


def storage_used(tenant: Tenant) -> tuple[int, bool]:
    """Bytes under ``portals/<schema>/`` in file storage, and whether every file was counted.

    Cached for ten minutes per portal: listing a bucket costs requests, and staff need the order
    of magnitude, not the last byte.
    """
    key = f"staff:storage:{tenant.schema_name}"
    cached = cache.get(key)
    if cached is not None:
        return tuple(cached)
    total, seen, complete = 0, 0, True
    pending = [f"portals/{tenant.schema_name}"]
    while pending and complete:
        folder = pending.pop()
        try:
            folders, files = default_storage.listdir(folder)
        except (FileNotFoundError, NotADirectoryError):
            continue
        pending.extend(f"{folder}/{name}" for name in folders)
        for name in files:
            seen += 1
            if seen > STORAGE_MAX_FILES:
                complete = False
                break
            total += default_storage.size(f"{folder}/{name}")
    cache.set(key, (total, complete), STORAGE_CACHE_SECONDS)
    return total, complete


@dataclass(frozen=True)
class AuditFilters:
    tenant: str = ""  # a portal's id
    actor: str = ""  # part of an e-mail
    action: str = ""  # an action or its prefix, e.g. "staff." or "impersonation"
    date_from: date | None = None
    date_to: date | None = None


def audit_events(filters: AuditFilters) -> QuerySet[AuditEvent]:
    queryset = AuditEvent.objects.select_related("tenant", "partner")
    if filters.tenant:
        queryset = queryset.filter(tenant_id=filters.tenant)
    if filters.actor:
        queryset = queryset.filter(actor_label__icontains=filters.actor.strip())
    if filters.action:
        queryset = queryset.filter(action__startswith=filters.action.strip())
    if filters.date_from:
        queryset = queryset.filter(created_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        queryset = queryset.filter(created_at__lt=_day_start(filters.date_to) + timezone.timedelta(days=1))
    return queryset


def audit_actions() -> list[str]:
    return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct())


def impersonations_of(tenant: Tenant) -> QuerySet[Impersonation]:
    """Staff access to one portal, newest first (shown to staff and to the portal's administrators)."""
    return Impersonation.objects.filter(tenant=tenant).select_related("staff_user", "grant")


def active_impersonation(pk: int, tenant: Tenant) -> Impersonation | None:
    return (Impersonation.objects.select_related("staff_user", "grant")
            .filter(pk=pk, tenant_id=tenant.pk).first())


def grant_of(impersonation: Impersonation) -> ImpersonationGrant | None:
    return ImpersonationGrant.objects.filter(impersonation=impersonation).first()
