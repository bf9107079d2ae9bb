"""Partner-paid mode: a partner pays for several client portals on one Stripe subscription.

Each client portal is one item of the partner's subscription: the price is the portal's plan
price, the quantity its seats on the per-user plan (else 1), and the item's metadata names the
portal (``tenant_schema``). The subscription's status is shared by every client: a failed
payment makes all of them overdue, one payment restores all (docs/decisions/0007).

Writes go to Stripe first. The local mirror is then re-read from Stripe with the code the
webhooks run (``stripe_sync.sync_partner_account``): Stripe answers item changes at once, so the
partner sees the result immediately, and the webhook that follows finds nothing left to do.
Locks are taken in the webhooks' order: the partner's account row, then client rows.
"""

from __future__ import annotations

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from billing import limits, stripe_gateway, stripe_sync
from billing.models import PartnerBillingAccount, PlanPrice, Resource, Subscription
from tenants.models import Partner, Tenant
from tenants.signals import client_portal_unlinking

log = structlog.get_logger(__name__)


# --- Checks, each refusing with the reason in the user's language --------------------------------

def _linked_client(*, partner: Partner, tenant: Tenant) -> Tenant:
    """The portal, fresh from the database, provided it is a client portal of ``partner``."""
    current = Tenant.objects.filter(pk=tenant.pk).first()
    if current is None or current.is_public or current.partner_id != partner.pk:
        raise ValidationError({"tenant": _(
            "%(portal)s is not a client portal of %(partner)s, so %(partner)s cannot pay for it. "
            "Link the portal to the partner first."
        ) % {"portal": tenant.name, "partner": partner.name}}, code="not_a_client")
    return current


def _require_seats_for_users(tenant: Tenant, price: PlanPrice, seats: int | None) -> None:
    if not price.plan.per_seat:
        return
    if not seats or seats < 1:
        raise ValidationError({"seats": _("Enter how many users the per-user plan should cover.")}, code="seats")
    used = limits.usage_of(tenant, Resource.SEATS)
    if seats < used:
        raise ValidationError({"seats": _("The portal has %(used)s active users; deactivate some before buying "
                                          "fewer seats.") % {"used": used}}, code="seats")


def _pays_for_itself(subscription: Subscription) -> bool:
    return (not subscription.is_partner_paid and bool(subscription.stripe_subscription_id)
            and subscription.status != Subscription.Status.CANCELED)


def _refuse_if_paid_elsewhere(subscription: Subscription, account: PartnerBillingAccount, *, tenant: Tenant) -> None:
    if _pays_for_itself(subscription):
        # Moving now would bill the portal twice; its own subscription has to end first.
        raise ValidationError({"tenant": _(
            "%(portal)s still pays for its own subscription. It can move to the partner's billing once that "
            "subscription has ended."
        ) % {"portal": tenant.name}}, code="pays_for_itself")
    if subscription.partner_account_id not in (None, account.pk):
        raise ValidationError({"tenant": _("%(portal)s is paid for by another partner.") % {"portal": tenant.name}},
                              code="paid_by_another_partner")


def _refuse_other_terms(account: PartnerBillingAccount, price: PlanPrice) -> None:
    # Stripe bills one subscription in one currency and on one interval.
    if (price.currency, price.interval) != (account.currency, account.interval):
        raise ValidationError({"price": _(
            "The partner's subscription is billed %(interval)s in %(currency)s; choose a price with the same "
            "currency and billing interval."
        ) % {"interval": PlanPrice.Interval(account.interval).label, "currency": account.currency}},
            code="other_terms")


def _refuse_new_clients_while_owing(account: PartnerBillingAccount) -> None:
    # A portal added now would start its life overdue, and in the grace period of the others.
    if account.status in stripe_sync.OWING:
        raise ValidationError(_("The partner's subscription has an unpaid invoice. Pay it before adding more "
                                "portals to it."), code="partner_owing")


# --- Locks -----------------------------------------------------------------------------------------

def _locked_account_of(partner: Partner) -> PartnerBillingAccount:
    PartnerBillingAccount.objects.get_or_create(partner=partner)
    return PartnerBillingAccount.objects.select_for_update().get(partner=partner)


def _locked_subscription_of(tenant: Tenant) -> Subscription:
    return Subscription.objects.select_for_update(of=("self",)).select_related("plan").get(tenant_id=tenant.pk)


def _public_site_url(query: str) -> str:
    scheme = "https" if settings.USE_TLS else "http"
    return f"{scheme}://{settings.BASE_DOMAIN}/?{query}"


# --- Services ----------------------------------------------------------------------------------

def put_client_on_partner_billing(*, partner: Partner, tenant: Tenant, price: PlanPrice, seats: int | None = None,
                                  success_url: str = "", cancel_url: str = "") -> str | None:
    """The partner pays for ``tenant`` on ``price`` from now on (also how a client's plan changes).

    Returns the URL of a Stripe Checkout page when the partner has no running subscription yet
    (the portal becomes its first item once the partner pays), or None when the portal was added
    to, or changed on, the running subscription with proration.
    """
    tenant = _linked_client(partner=partner, tenant=tenant)
    _require_seats_for_users(tenant, price, seats)
    with transaction.atomic():
        account = _locked_account_of(partner)
        subscription = _locked_subscription_of(tenant)
        _refuse_if_paid_elsewhere(subscription, account, tenant=tenant)
        if account.has_live_subscription:
            _add_or_change_item(account, tenant=tenant, price=price, seats=seats)
            stripe_sync.sync_partner_account(account)
            return None
    return stripe_gateway.create_partner_checkout_session(
        partner=partner, tenant=tenant, price=price, seats=seats,
        success_url=success_url or _public_site_url("partner_checkout=success"),
        cancel_url=cancel_url or _public_site_url("partner_checkout=cancelled"))


def _add_or_change_item(account: PartnerBillingAccount, *, tenant: Tenant, price: PlanPrice,
                        seats: int | None) -> None:
    _refuse_other_terms(account, price)
    data = stripe_gateway.fetch_subscription_with_all_items(account.stripe_subscription_id)
    item = stripe_sync.client_items_of(data).get(tenant.schema_name)
    if item is not None:
        stripe_gateway.change_subscription_item(item["id"], price=price, seats=seats)
        return
    _refuse_new_clients_while_owing(account)
    stripe_gateway.add_subscription_item(stripe_subscription_id=account.stripe_subscription_id, tenant=tenant,
                                         price=price, seats=seats)


def change_client_plan(*, tenant: Tenant, price: PlanPrice, seats: int | None = None) -> None:
    """A partner-paid portal moves to another plan or number of seats: its item changes, prorated."""
    partner = _paying_partner_of(tenant)
    put_client_on_partner_billing(partner=partner, tenant=tenant, price=price, seats=seats)


def _paying_partner_of(tenant: Tenant) -> Partner:
    subscription = Subscription.objects.select_related("partner_account__partner").filter(tenant_id=tenant.pk).first()
    if subscription is None or not subscription.is_partner_paid:
        raise ValidationError({"tenant": _("%(portal)s is not paid for by a partner.") % {"portal": tenant.name}},
                              code="not_partner_paid")
    return subscription.partner_account.partner


def move_client_off_partner_billing(*, tenant: Tenant) -> Subscription:
    """The partner stops paying for ``tenant``; the portal pays for itself again (or uses the free plan).

    Its item leaves the partner's subscription with proration (the last item ends the whole
    subscription, as Stripe requires). Nothing in the portal is deleted.
    """
    partner = _paying_partner_of(tenant)
    with transaction.atomic():
        account = _locked_account_of(partner)
        subscription = _locked_subscription_of(tenant)
        if subscription.partner_account_id != account.pk:
            raise ValidationError({"tenant": _("%(portal)s is not paid for by a partner.") % {"portal": tenant.name}},
                                  code="not_partner_paid")
        _remove_item_of(account, tenant=tenant)
        # Re-read from Stripe: the item is gone, so the sync releases this portal and no other.
        stripe_sync.sync_partner_account(account)
        subscription.refresh_from_db()
    log.info("billing.client_moved_off_partner_billing", partner=partner.slug, tenant=tenant.schema_name)
    return subscription


def _remove_item_of(account: PartnerBillingAccount, *, tenant: Tenant) -> None:
    data = stripe_sync.partner_subscription_data(account)
    if data is None or stripe_sync.STATUS_FROM_STRIPE.get(data.get("status", "")) == Subscription.Status.CANCELED:
        return  # nothing is billed any more
    item = stripe_sync.client_items_of(data).get(tenant.schema_name)
    if item is None:
        return
    if len(data["items"]["data"]) == 1:
        stripe_gateway.cancel_subscription_now(account.stripe_subscription_id)
    else:
        stripe_gateway.delete_subscription_item(item["id"])


# --- Reacting to the tenants layer -----------------------------------------------------------------

def _move_off_before_unlinking(sender, *, tenant: Tenant, **kwargs) -> None:
    """A portal leaving its partner stops being paid for by it first (tenants.signals)."""
    if Subscription.objects.filter(tenant_id=tenant.pk, partner_account__isnull=False).exists():
        move_client_off_partner_billing(tenant=tenant)


def connect_signals() -> None:
    client_portal_unlinking.connect(_move_off_before_unlinking, dispatch_uid="billing.partner_billing.unlinking")
