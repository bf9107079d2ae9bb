"""Every write to plans and subscriptions that does not come from Stripe (see billing.stripe_sync)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from billing.models import Plan, Subscription
from billing.selectors import TRIAL_PLAN_CODE
from tenants.models import Tenant

TRIAL_DAYS = 30


def start_trial(*, tenant: Tenant) -> Subscription:
    """Every new portal starts a 30-day trial of the top plan (idempotent)."""
    with transaction.atomic():
        subscription, _ = Subscription.objects.get_or_create(
            tenant=tenant,
            defaults={"plan": Plan.objects.get(code=TRIAL_PLAN_CODE), "status": Subscription.Status.TRIALING,
                      "trial_ends_at": timezone.now() + timedelta(days=TRIAL_DAYS), "currency": tenant.currency},
        )
    return subscription
