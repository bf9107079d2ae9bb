"""Every write to plans and subscriptions that does not come from Stripe (see billing.stripe_sync)."""

from __future__ import annotations

from datetime import timedelta

import structlog
from django.db import transaction
from django.utils import timezone

from billing.limits import UsageLine, over_limits_on
from billing.models import BillingDetails, Plan, PlanPrice, Subscription
from billing.selectors import TRIAL_PLAN_CODE
from tenants.models import Tenant

TRIAL_DAYS = 30
log = structlog.get_logger(__name__)


def start_trial(*, tenant: Tenant) -> Subscription:
    """Every new portal starts a 30-day trial of the top plan (idempotent)."""
    with transaction.atomic():
        subscription, _ = Subscription.objects.get_or_create(
            tenant=tenant,
            defaults={"plan": Plan.objects.get(code=TRIAL_PLAN_CODE), "status": Subscription.Status.TRIALING,
                      "trial_ends_at": timezone.now() + timedelta(days=TRIAL_DAYS), "currency": tenant.currency},
        )
    return subscription


class PlanChange:
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    SAME = "same"


def kind_of_change(current: Plan, new: Plan, *, current_seats: int | None = None, new_seats: int | None = None) -> str:
    if new.pk == current.pk:
        if new.per_seat and (new_seats or 0) > (current_seats or 0):
            return PlanChange.UPGRADE
        if new.per_seat and (new_seats or 0) < (current_seats or 0):
            return PlanChange.DOWNGRADE
        return PlanChange.SAME
    return PlanChange.UPGRADE if new.rank > current.rank else PlanChange.DOWNGRADE


def schedule_downgrade(*, tenant: Tenant, plan: Plan, seats: int | None = None) -> list[UsageLine]:
    """Downgrades start with the next period and never delete data (docs/decisions/0008).

    Returns what the portal uses beyond the new plan's limits: the administrator gets this
    exact list, and until it is reduced the limits service refuses to add more of those things.
    """
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(tenant=tenant)
        subscription.scheduled_plan = plan
        subscription.scheduled_seats = seats
        subscription.save(update_fields=["scheduled_plan", "scheduled_seats", "updated_at"])
    return over_limits_on(tenant, plan, seats=seats)


def cancel_scheduled_change(*, tenant: Tenant) -> None:
    Subscription.objects.filter(tenant=tenant).update(scheduled_plan=None, scheduled_seats=None)


def apply_due_scheduled_changes(*, now=None) -> list[Subscription]:
    """At the end of the period the scheduled plan takes over (called by a control-plane job).

    A paying portal's Stripe subscription moves to the new price first, without proration;
    otherwise the next ``customer.subscription.updated`` would sync the old plan back. A Stripe
    failure leaves the change scheduled for the next run.
    """
    from billing import stripe_gateway

    now = now or timezone.now()
    changed = []
    # Partner-paid portals change plan through their item on the partner's subscription.
    due = Subscription.objects.select_related("scheduled_plan").filter(
        scheduled_plan__isnull=False, current_period_end__lte=now, partner_account__isnull=True)
    for subscription in due:
        if subscription.stripe_subscription_id:
            price = PlanPrice.objects.filter(plan=subscription.scheduled_plan, currency=subscription.currency,
                                             interval=subscription.interval).first()
            try:
                if price is None:
                    raise stripe_gateway.PaymentProviderError("no price for the scheduled plan")
                stripe_gateway.change_subscription(subscription=subscription, price=price,
                                                   seats=subscription.scheduled_seats, prorate=False)
            except stripe_gateway.PaymentProviderError:
                log.exception("billing.scheduled_change_failed", tenant=subscription.tenant_id)
                continue
        with transaction.atomic():
            subscription.plan = subscription.scheduled_plan
            subscription.seats = subscription.scheduled_seats
            subscription.scheduled_plan = None
            subscription.scheduled_seats = None
            subscription.save(update_fields=["plan", "seats", "scheduled_plan", "scheduled_seats", "updated_at"])
        changed.append(subscription)
    return changed


def assign_plan(*, tenant: Tenant, plan: Plan, seats: int | None = None) -> Subscription:
    """Set the plan of a portal that does not pay through Stripe (trial, free plan, lapsed), now.

    For platform staff; a portal paying through Stripe changes plan through Stripe instead
    (``stripe_gateway.change_subscription`` or a partner's item), or the mirror would drift.
    """
    with transaction.atomic():
        subscription, _created = Subscription.objects.select_for_update().get_or_create(
            tenant=tenant, defaults={"plan": plan, "status": Subscription.Status.FREE, "currency": tenant.currency})
        if subscription.stripe_subscription_id and subscription.status in (
                Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE):
            raise ValueError("a portal paying through Stripe changes plan through Stripe")
        subscription.plan = plan
        subscription.seats = seats if plan.per_seat else None
        subscription.scheduled_plan = None
        subscription.scheduled_seats = None
        if plan.is_free:
            subscription.status = Subscription.Status.FREE
        subscription.save(update_fields=["plan", "seats", "scheduled_plan", "scheduled_seats", "status",
                                         "updated_at"])
    log.info("billing.plan_assigned", tenant=tenant.schema_name, plan=plan.code, seats=seats)
    return subscription


def save_billing_details(*, tenant: Tenant, company_name: str, nip: str, vat_id: str, street: str,
                         postal_code: str, city: str, country: str, email: str) -> BillingDetails:
    details, _ = BillingDetails.objects.update_or_create(tenant=tenant, defaults={
        "company_name": company_name.strip(), "nip": nip, "vat_id": vat_id, "street": street.strip(),
        "postal_code": postal_code.strip(), "city": city.strip(), "country": country.upper(), "email": email.strip(),
    })
    return details
