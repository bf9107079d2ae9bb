"""The trial as the portal lifecycle sees it (tenants.transitions asks through tenants.signals).

Tenants sits below billing, so it cannot read or write subscriptions itself: ``resume`` and
``reactivate`` ask when the trial ends, ``extend_trial`` asks billing to move that date.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.models import Plan, Subscription
from billing.selectors import TRIAL_PLAN_CODE
from tenants.models import Tenant
from tenants.signals import trial_end_requested, trial_extension_requested

log = structlog.get_logger(__name__)


def trial_end(tenant: Tenant) -> datetime | None:
    """When the portal's trial ends, or None when it is not on a trial."""
    return (Subscription.objects.filter(tenant_id=tenant.pk, status=Subscription.Status.TRIALING)
            .values_list("trial_ends_at", flat=True).first())


def extend_trial(*, tenant: Tenant, days: int) -> datetime:
    """Move the trial's end ``days`` later; a portal past its trial (free plan) starts a new one of the
    top plan. A portal paying through Stripe, or paid for by a partner, is refused: Stripe decides there."""
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().filter(tenant_id=tenant.pk).first()
        if subscription is None:
            raise ValidationError({"days": _("This portal's trial cannot be extended: it has no subscription.")})
        if subscription.is_partner_paid:
            raise ValidationError({"days": _("A partner pays for this portal, so its trial cannot be extended "
                                              "here.")})
        if subscription.stripe_subscription_id:
            raise ValidationError({"days": _("This portal pays through its Stripe subscription, so its trial "
                                              "cannot be extended here.")})
        now = timezone.now()
        if subscription.status == Subscription.Status.TRIALING:
            subscription.trial_ends_at = max(subscription.trial_ends_at or now, now) + timedelta(days=days)
        else:
            subscription.plan = Plan.objects.get(code=TRIAL_PLAN_CODE)
            subscription.status = Subscription.Status.TRIALING
            subscription.seats = None
            subscription.scheduled_plan = subscription.scheduled_seats = None
            subscription.trial_ends_at = now + timedelta(days=days)
        subscription.save(update_fields=["plan", "status", "seats", "scheduled_plan", "scheduled_seats",
                                         "trial_ends_at", "updated_at"])
    log.info("billing.trial_extended", tenant=tenant.schema_name, days=days,
             trial_ends_at=subscription.trial_ends_at.isoformat())
    return subscription.trial_ends_at


def _answer_trial_end(sender, *, tenant: Tenant, **kwargs) -> datetime | None:
    return trial_end(tenant)


def _answer_trial_extension(sender, *, tenant: Tenant, days: int, **kwargs) -> datetime:
    return extend_trial(tenant=tenant, days=days)


def connect_signals() -> None:
    trial_end_requested.connect(_answer_trial_end, dispatch_uid="billing.trials.end")
    trial_extension_requested.connect(_answer_trial_extension, dispatch_uid="billing.trials.extend")
