"""Billing follows the portal lifecycle (tenants.transitions via tenants.signals.portal_status_changed).

A cancelled portal stops renewing (its own Stripe subscription ends at the period end, a
partner stops paying for it at once); reactivating it before then renews again; deleting it
ends anything still billed. The Stripe call runs inside the lifecycle move's transaction, so a
refusal from Stripe stops the move with a message instead of leaving a closed portal billed.
"""

from __future__ import annotations

import structlog
from django.core.exceptions import ValidationError

from billing import stripe_gateway
from billing.models import Subscription
from billing.stripe_gateway import PaymentProviderError
from tenants.models import Tenant
from tenants.signals import portal_status_changed

log = structlog.get_logger(__name__)

ENDED = {Tenant.Status.CLOSED, Tenant.Status.DELETION_SCHEDULED}
DELETED = "deleted"


def _own_stripe_subscription(tenant: Tenant) -> Subscription | None:
    subscription = Subscription.objects.filter(tenant_id=tenant.pk).first()
    if (subscription is None or subscription.partner_account_id or not subscription.stripe_subscription_id
            or subscription.status == Subscription.Status.CANCELED):
        return None
    return subscription


def stop_renewal(*, tenant: Tenant) -> None:
    if Subscription.objects.filter(tenant_id=tenant.pk, partner_account__isnull=False).exists():
        from billing.partner_billing import move_client_off_partner_billing

        move_client_off_partner_billing(tenant=tenant)
        return
    subscription = _own_stripe_subscription(tenant)
    if subscription is None or subscription.cancel_at_period_end:
        return
    stripe_gateway.set_cancel_at_period_end(subscription.stripe_subscription_id, True)
    Subscription.objects.filter(pk=subscription.pk).update(cancel_at_period_end=True)
    log.info("billing.renewal_stopped", tenant=tenant.schema_name)


def resume_renewal(*, tenant: Tenant) -> None:
    subscription = _own_stripe_subscription(tenant)
    if subscription is None or not subscription.cancel_at_period_end:
        return
    stripe_gateway.set_cancel_at_period_end(subscription.stripe_subscription_id, False)
    Subscription.objects.filter(pk=subscription.pk).update(cancel_at_period_end=False)
    log.info("billing.renewal_resumed", tenant=tenant.schema_name)


def end_billing_now(*, tenant: Tenant) -> None:
    subscription = _own_stripe_subscription(tenant)
    if subscription is None:
        return
    try:
        stripe_gateway.cancel_subscription_now(subscription.stripe_subscription_id)
    except PaymentProviderError as error:
        if not stripe_gateway.is_missing(error):
            raise
    log.info("billing.ended_with_portal", tenant=tenant.schema_name)


def _follow_the_lifecycle(sender, *, tenant: Tenant, previous: str, status: str, **kwargs) -> None:
    try:
        if status == DELETED:
            end_billing_now(tenant=tenant)
        elif status in ENDED and previous not in ENDED:
            stop_renewal(tenant=tenant)
        elif previous in ENDED and status not in ENDED:
            resume_renewal(tenant=tenant)
    except PaymentProviderError as error:
        raise ValidationError(error.message) from error


def connect_signals() -> None:
    portal_status_changed.connect(_follow_the_lifecycle, dispatch_uid="billing.closing.lifecycle")
