"""Dunning and trial expiry: what happens to a portal that stops paying or never starts.

Timeline of a failed payment (Stripe retries the card on its own schedule meanwhile):
day 0 the payment fails → subscription past_due, portal past_due with a banner (stripe_sync);
after DUNNING_GRACE_DAYS → portal suspended, i.e. read-only (tenants.lifecycle);
any time a payment succeeds → active again at once (stripe_sync). Nothing is ever deleted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from django.db import transaction
from django.utils import timezone

from billing.models import Plan, Subscription
from billing.selectors import FREE_PLAN_CODE
from billing.stripe_sync import OWING
from tenants import services as tenant_services
from tenants.lifecycle import ENDED, PAYMENT_GRACE_DAYS
from tenants.models import Tenant

log = structlog.get_logger(__name__)

DUNNING_GRACE_DAYS = PAYMENT_GRACE_DAYS  # one number for the job and the banner


def _lock(subscription_id: int) -> Subscription:
    # The same row lock the webhook processing takes, so a payment being applied right now
    # and the suspension below cannot interleave.
    return Subscription.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=subscription_id)


def enforce_dunning(*, now: datetime | None = None) -> list[Tenant]:
    """Suspend (read-only) every portal whose payment has been overdue longer than the grace period."""
    now = now or timezone.now()
    deadline = now - timedelta(days=DUNNING_GRACE_DAYS)
    overdue = (Subscription.objects.filter(status__in=OWING, past_due_since__lte=deadline)
               .exclude(tenant__status__in=[Tenant.Status.SUSPENDED, *ENDED])
               .values_list("pk", flat=True))
    suspended = []
    for subscription_id in overdue:
        with transaction.atomic():
            subscription = _lock(subscription_id)
            still_overdue = (subscription.status in OWING and subscription.past_due_since is not None
                             and subscription.past_due_since <= deadline)
            if not still_overdue or subscription.tenant.status in (Tenant.Status.SUSPENDED, *ENDED):
                continue
            tenant_services.set_status(tenant=subscription.tenant, status=Tenant.Status.SUSPENDED,
                                       reason=f"payment overdue since {subscription.past_due_since:%Y-%m-%d}")
        log.warning("billing.portal_suspended_for_non_payment", tenant=subscription.tenant.schema_name,
                    past_due_since=subscription.past_due_since.isoformat())
        suspended.append(subscription.tenant)
    return suspended


def end_expired_trials(*, now: datetime | None = None) -> list[Tenant]:
    """Portals whose trial ended without subscribing continue on the free plan.

    Their data stays; whatever exceeds the free plan's limits becomes read-only or blocked
    for new additions through the limits service, never deleted.
    """
    now = now or timezone.now()
    # A partner-paid portal's status is its partner's: a trial there is Stripe's, not ours to end.
    expired = (Subscription.objects.filter(status=Subscription.Status.TRIALING, trial_ends_at__lte=now,
                                           stripe_subscription_id="", partner_account__isnull=True)
               .values_list("pk", flat=True))
    free_plan = Plan.objects.get(code=FREE_PLAN_CODE)
    moved = []
    for subscription_id in expired:
        with transaction.atomic():
            subscription = _lock(subscription_id)
            if (subscription.status != Subscription.Status.TRIALING or subscription.stripe_subscription_id
                    or subscription.is_partner_paid):
                continue  # subscribed in the meantime
            subscription.plan = free_plan
            subscription.status = Subscription.Status.FREE
            subscription.seats = None
            subscription.scheduled_plan = None
            subscription.scheduled_seats = None
            subscription.save(update_fields=["plan", "status", "seats", "scheduled_plan", "scheduled_seats",
                                             "updated_at"])
            if subscription.tenant.status == Tenant.Status.TRIAL:
                tenant_services.set_status(tenant=subscription.tenant, status=Tenant.Status.ACTIVE,
                                           reason="trial ended; moved to the free plan")
        log.info("billing.trial_ended", tenant=subscription.tenant.schema_name)
        moved.append(subscription.tenant)
    return moved
