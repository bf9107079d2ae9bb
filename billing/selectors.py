"""Reads of plans and subscriptions."""

from __future__ import annotations

from django.db.models import QuerySet

from billing.models import Plan, Subscription
from tenants.models import Partner, Tenant

FREE_PLAN_CODE = "free"
TRIAL_PLAN_CODE = "enterprise"


def public_plans() -> QuerySet[Plan]:
    return Plan.objects.filter(is_public=True).prefetch_related("prices").order_by("rank")


def subscription_of(tenant: Tenant) -> Subscription | None:
    return (Subscription.objects.select_related("plan", "scheduled_plan", "partner_account__partner")
            .filter(tenant_id=tenant.pk).first())


def clients_paid_by(partner: Partner) -> QuerySet[Subscription]:
    """The subscriptions of the client portals a partner pays for, with their portals and plans."""
    return (Subscription.objects.select_related("tenant", "plan")
            .filter(partner_account__partner_id=partner.pk).order_by("tenant__name"))


def plan_and_seats(tenant: Tenant) -> tuple[Plan, int | None]:
    """The plan whose limits apply now; a portal without a subscription is on the free plan."""
    subscription = subscription_of(tenant)
    if subscription is None or subscription.status in (Subscription.Status.CANCELED,):
        return Plan.objects.get(code=FREE_PLAN_CODE), None
    return subscription.plan, subscription.seats


def invoices_of(tenant: Tenant):
    from billing.models import Invoice

    return Invoice.objects.filter(tenant_id=tenant.pk).order_by("-created_at")
