"""Reads of plans and subscriptions."""

from __future__ import annotations

from django.db.models import QuerySet

from billing.models import Plan, Subscription
from tenants.models import Tenant

FREE_PLAN_CODE = "free"
TRIAL_PLAN_CODE = "enterprise"


def public_plans() -> QuerySet[Plan]:
    return Plan.objects.filter(is_public=True).prefetch_related("prices").order_by("rank")


def subscription_of(tenant: Tenant) -> Subscription | None:
    return Subscription.objects.select_related("plan", "scheduled_plan").filter(tenant_id=tenant.pk).first()


def plan_and_seats(tenant: Tenant) -> tuple[Plan, int | None]:
    """The plan whose limits apply now; a portal without a subscription is on the free plan."""
    subscription = subscription_of(tenant)
    if subscription is None or subscription.status in (Subscription.Status.CANCELED,):
        return Plan.objects.get(code=FREE_PLAN_CODE), None
    return subscription.plan, subscription.seats


def invoices_of(tenant: Tenant):
    from billing.models import Invoice

    return Invoice.objects.filter(tenant_id=tenant.pk).order_by("-created_at")
