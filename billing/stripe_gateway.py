"""Every call Kompas makes to Stripe, through the official ``stripe`` library.

Nothing here changes a subscription's local state: Stripe is the source of truth, and its
answer reaches us through a webhook that ``billing.stripe_sync`` applies after re-fetching the
object. The only local writes are the ids that link our rows to Stripe's (customer, product,
price), so a retried call reuses what an earlier one created.

Stripe's own error texts are English, technical and sometimes name internal ids; users get
a translated ``PaymentProviderError`` instead, and the original goes to the log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import stripe
import structlog
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from billing.models import BillingDetails, PartnerBillingAccount, Plan, PlanPrice, Subscription
from tenants.models import Partner, Tenant

log = structlog.get_logger(__name__)

# Stripe retries idempotently (it adds an Idempotency-Key to every retried POST).
NETWORK_RETRIES = 2


class PaymentProviderError(Exception):
    """Stripe refused a request or could not be reached. ``str(error)`` is translated and safe to show."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _user_message_for(error: stripe.StripeError) -> str:
    if isinstance(error, stripe.CardError):
        return _("The payment card was declined. Please use another card or contact your bank.")
    if isinstance(error, stripe.APIConnectionError | stripe.RateLimitError):
        return _("The payment provider cannot be reached right now. Please try again in a few minutes.")
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return _("Online payments are temporarily unavailable. Our team has been notified.")
    return _("The payment provider could not complete the request. Please try again or contact our support.")


@contextmanager
def _translated_errors(action: str) -> Iterator[None]:
    try:
        yield
    except stripe.StripeError as error:
        log.warning("stripe.request_failed", action=action, error_type=type(error).__name__,
                    code=getattr(error, "code", None), http_status=error.http_status,
                    request_id=error.request_id, detail=error.user_message or str(error))
        raise PaymentProviderError(_user_message_for(error), code=getattr(error, "code", "") or "") from error


@lru_cache(maxsize=4)
def _client_for(api_key: str, api_base: str) -> stripe.StripeClient:
    base_addresses = {"api": api_base} if api_base else None
    return stripe.StripeClient(api_key, base_addresses=base_addresses, max_network_retries=NETWORK_RETRIES)


def _client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        log.error("stripe.not_configured")
        raise PaymentProviderError(_("Online payments are not configured yet. Please contact our support."),
                                   code="not_configured")
    # Keyed by the settings, so tests that point STRIPE_API_BASE at a fake get their own client.
    return _client_for(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE)


def _as_dict(stripe_object: Any) -> dict:
    return stripe_object.to_dict(for_json=True)


# --- Customers --------------------------------------------------------------------------------

def _customer_params(tenant: Tenant) -> dict[str, Any]:
    params: dict[str, Any] = {
        "name": tenant.name,
        "preferred_locales": [tenant.language],
        "metadata": {"tenant_schema": tenant.schema_name, "tenant_slug": tenant.slug},
    }
    details = BillingDetails.objects.filter(tenant_id=tenant.pk).first()
    if details is not None:
        params["name"] = details.company_name
        params["email"] = details.email
        params["address"] = {"line1": details.street, "postal_code": details.postal_code,
                             "city": details.city, "country": details.country}
        vat_number = details.vat_id or (f"PL{details.nip}" if details.nip else "")
        if vat_number:
            # NIP and EU VAT numbers are validated by the billing details form before they get here.
            params["tax_id_data"] = [{"type": "eu_vat", "value": vat_number}]
        if details.nip:
            params["metadata"]["nip"] = details.nip
    return params


def ensure_customer(*, tenant: Tenant) -> str:
    """The portal's Stripe customer id, creating the customer on first use."""
    with transaction.atomic():
        # The row lock makes two simultaneous first checkouts create one customer, not two.
        subscription = Subscription.objects.select_for_update().get(tenant_id=tenant.pk)
        if subscription.stripe_customer_id:
            return subscription.stripe_customer_id
        with _translated_errors("create_customer"):
            customer = _client().v1.customers.create(params=_customer_params(tenant))
        subscription.stripe_customer_id = customer.id
        subscription.save(update_fields=["stripe_customer_id", "updated_at"])
    log.info("stripe.customer_created", tenant=tenant.schema_name, customer=customer.id)
    return customer.id


# --- Products and prices ----------------------------------------------------------------------

def _product_name(plan: Plan) -> str:
    # The product name appears on Stripe's invoices, which are not translated per reader.
    name = plan.name_pl if plan.name_pl == plan.name_en else f"{plan.name_pl} / {plan.name_en}"
    return f"Kompas {name}"


def _ensure_stripe_product(plan: Plan) -> str:
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    if not plan.stripe_product_id:
        with _translated_errors("create_product"):
            product = _client().v1.products.create(params={
                "name": _product_name(plan), "metadata": {"plan_code": plan.code}})
        plan.stripe_product_id = product.id
        plan.save(update_fields=["stripe_product_id", "updated_at"])
    return plan.stripe_product_id


def ensure_stripe_price(price: PlanPrice) -> str:
    """The Stripe price for a plan price, creating the product and price on first use.

    Plans are data that staff edit, so Stripe's catalogue follows ours lazily instead of being
    set up by hand in the Stripe dashboard.
    """
    if price.stripe_price_id:
        return price.stripe_price_id
    with transaction.atomic():
        locked = PlanPrice.objects.select_for_update().select_related("plan").get(pk=price.pk)
        if not locked.stripe_price_id:
            product_id = _ensure_stripe_product(locked.plan)
            with _translated_errors("create_price"):
                stripe_price = _client().v1.prices.create(params={
                    "product": product_id,
                    "currency": locked.currency.lower(),
                    "unit_amount": locked.amount_minor_units,
                    "recurring": {"interval": locked.interval},
                    # Our prices are net; VAT is added on top.
                    "tax_behavior": "exclusive",
                    # A lookup key survives a lost response: the next attempt takes it over.
                    "lookup_key": f"kompas-{locked.plan.code}-{locked.currency}-{locked.interval}".lower(),
                    "transfer_lookup_key": True,
                    "metadata": {"plan_code": locked.plan.code, "plan_price": str(locked.pk)},
                })
            locked.stripe_price_id = stripe_price.id
            locked.save(update_fields=["stripe_price_id"])
    price.stripe_price_id = locked.stripe_price_id
    return price.stripe_price_id


def _quantity(price: PlanPrice, seats: int | None) -> int:
    if not price.plan.per_seat:
        return 1
    if not seats or seats < 1:
        raise PaymentProviderError(_("Enter how many users the per-user plan should cover."), code="seats")
    return seats


# --- Checkout, Customer Portal, plan changes --------------------------------------------------

def create_checkout_session(*, tenant: Tenant, price: PlanPrice, seats: int | None, success_url: str,
                            cancel_url: str) -> str:
    """A Stripe Checkout page where the portal subscribes to ``price``; returns its URL."""
    quantity = _quantity(price, seats)
    customer_id = ensure_customer(tenant=tenant)
    price_id = ensure_stripe_price(price)
    metadata = {"tenant_schema": tenant.schema_name, "plan_code": price.plan.code}
    with _translated_errors("create_checkout_session"):
        session = _client().v1.checkout.sessions.create(params={
            "mode": "subscription",
            "customer": customer_id,
            # How the completed session finds its portal again (billing.stripe_sync).
            "client_reference_id": tenant.schema_name,
            "line_items": [{"price": price_id, "quantity": quantity}],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "locale": tenant.language if tenant.language in ("pl", "en") else "auto",
            "metadata": metadata,
            "subscription_data": {"metadata": metadata},
        })
    log.info("stripe.checkout_created", tenant=tenant.schema_name, session=session.id, plan=price.plan.code,
             quantity=quantity)
    return session.url


def create_portal_session(*, tenant: Tenant, return_url: str) -> str:
    """Stripe's Customer Portal, where the portal's administrators manage cards and download invoices."""
    customer_id = ensure_customer(tenant=tenant)
    with _translated_errors("create_portal_session"):
        session = _client().v1.billing_portal.sessions.create(params={
            "customer": customer_id, "return_url": return_url,
            "locale": tenant.language if tenant.language in ("pl", "en") else "auto",
        })
    return session.url


def change_subscription(*, subscription: Subscription, price: PlanPrice, seats: int | None, prorate: bool) -> None:
    """Move the Stripe subscription to ``price`` (and ``seats``) now.

    With ``prorate`` Stripe credits the unused part of the period and charges the difference
    (upgrades); without, the new price applies from the next invoice. Local state changes
    when Stripe's ``customer.subscription.updated`` webhook confirms it.
    """
    if not subscription.stripe_subscription_id:
        raise PaymentProviderError(_("This portal has no paid subscription to change yet."), code="no_subscription")
    quantity = _quantity(price, seats)
    price_id = ensure_stripe_price(price)
    current = fetch_subscription(subscription.stripe_subscription_id)
    item_id = current["items"]["data"][0]["id"]
    with _translated_errors("update_subscription"):
        _client().v1.subscriptions.update(subscription.stripe_subscription_id, params={
            "items": [{"id": item_id, "price": price_id, "quantity": quantity}],
            "proration_behavior": "create_prorations" if prorate else "none",
            "metadata": {"plan_code": price.plan.code},
        })
    log.info("stripe.subscription_changed", subscription=subscription.stripe_subscription_id,
             plan=price.plan.code, quantity=quantity, prorate=prorate)


# --- Partner-paid portals: one subscription, one item per client portal -----------------------

# The item metadata key naming the client portal an item pays for (billing.stripe_sync reads it).
CLIENT_PORTAL_KEY = "tenant_schema"
# On the partner's subscription: the client of the first item, whose metadata Checkout may not carry.
FIRST_CLIENT_PORTAL_KEY = "first_client_schema"
PRORATE = "create_prorations"


def _partner_metadata(partner: Partner) -> dict[str, str]:
    return {"partner_id": str(partner.pk), "partner_slug": partner.slug}


def ensure_partner_customer(*, partner: Partner) -> str:
    """The partner's Stripe customer id (its billing account is created on first use)."""
    with transaction.atomic():
        PartnerBillingAccount.objects.get_or_create(partner=partner)
        # Locked like a portal's subscription row: two first checkouts create one customer.
        account = PartnerBillingAccount.objects.select_for_update().get(partner=partner)
        if account.stripe_customer_id:
            return account.stripe_customer_id
        with _translated_errors("create_partner_customer"):
            customer = _client().v1.customers.create(params={
                "name": partner.name, "email": partner.email, "metadata": _partner_metadata(partner)})
        account.stripe_customer_id = customer.id
        account.save(update_fields=["stripe_customer_id", "updated_at"])
    log.info("stripe.partner_customer_created", partner=partner.slug, customer=customer.id)
    return customer.id


def create_partner_checkout_session(*, partner: Partner, tenant: Tenant, price: PlanPrice, seats: int | None,
                                    success_url: str, cancel_url: str) -> str:
    """A Checkout page where the partner starts its subscription with ``tenant`` as the first item."""
    quantity = _quantity(price, seats)
    customer_id = ensure_partner_customer(partner=partner)
    price_id = ensure_stripe_price(price)
    metadata = _partner_metadata(partner)
    with _translated_errors("create_partner_checkout_session"):
        session = _client().v1.checkout.sessions.create(params={
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": f"partner-{partner.pk}",
            "line_items": [{"price": price_id, "quantity": quantity,
                            "metadata": {CLIENT_PORTAL_KEY: tenant.schema_name}}],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "locale": "auto",
            "metadata": metadata,
            # Whether Checkout copies line-item metadata to the subscription item is not something
            # to rely on: the subscription names its first client too, and the sync labels the item.
            "subscription_data": {"metadata": {**metadata, FIRST_CLIENT_PORTAL_KEY: tenant.schema_name}},
        })
    log.info("stripe.partner_checkout_created", partner=partner.slug, tenant=tenant.schema_name,
             session=session.id, plan=price.plan.code, quantity=quantity)
    return session.url


def add_subscription_item(*, stripe_subscription_id: str, tenant: Tenant, price: PlanPrice,
                          seats: int | None) -> dict:
    """Add ``tenant`` to a partner's subscription as a new item, prorated for the rest of the period."""
    quantity = _quantity(price, seats)
    price_id = ensure_stripe_price(price)
    with _translated_errors("create_subscription_item"):
        item = _client().v1.subscription_items.create(params={
            "subscription": stripe_subscription_id, "price": price_id, "quantity": quantity,
            "metadata": {CLIENT_PORTAL_KEY: tenant.schema_name}, "proration_behavior": PRORATE,
        })
    log.info("stripe.subscription_item_added", subscription=stripe_subscription_id, item=item.id,
             tenant=tenant.schema_name, plan=price.plan.code, quantity=quantity)
    return _as_dict(item)


def change_subscription_item(item_id: str, *, price: PlanPrice, seats: int | None) -> dict:
    """A client portal's plan or seats change: its item moves to ``price``, prorated."""
    quantity = _quantity(price, seats)
    price_id = ensure_stripe_price(price)
    with _translated_errors("update_subscription_item"):
        item = _client().v1.subscription_items.update(item_id, params={
            "price": price_id, "quantity": quantity, "proration_behavior": PRORATE})
    log.info("stripe.subscription_item_changed", item=item_id, plan=price.plan.code, quantity=quantity)
    return _as_dict(item)


def label_subscription_item(item_id: str, *, tenant_schema: str) -> None:
    """Write the client portal's schema on an item (metadata only: nothing is billed differently)."""
    with _translated_errors("label_subscription_item"):
        _client().v1.subscription_items.update(item_id, params={"metadata": {CLIENT_PORTAL_KEY: tenant_schema}})


def delete_subscription_item(item_id: str) -> None:
    """A client portal leaves its partner's subscription; the unused part of the period is credited."""
    with _translated_errors("delete_subscription_item"):
        _client().v1.subscription_items.delete(item_id, params={"proration_behavior": PRORATE})
    log.info("stripe.subscription_item_deleted", item=item_id)


def cancel_subscription_now(stripe_subscription_id: str) -> None:
    """End a subscription at once, crediting the unused part (Stripe refuses to delete its last item)."""
    with _translated_errors("cancel_subscription"):
        _client().v1.subscriptions.cancel(stripe_subscription_id, params={"prorate": True})
    log.info("stripe.subscription_cancelled", subscription=stripe_subscription_id)


def set_cancel_at_period_end(stripe_subscription_id: str, cancel: bool) -> dict:
    """Stop (or resume) renewing a subscription; it stays paid up to the end of the current period."""
    with _translated_errors("update_subscription"):
        updated = _client().v1.subscriptions.update(
            stripe_subscription_id, params={"cancel_at_period_end": cancel})
    log.info("stripe.subscription_renewal_changed", subscription=stripe_subscription_id, cancel=cancel)
    return _as_dict(updated)


# --- Reads ------------------------------------------------------------------------------------

def fetch_subscription(stripe_subscription_id: str) -> dict:
    """Stripe's current view of a subscription, as a plain dict shaped like the API reference."""
    with _translated_errors("retrieve_subscription"):
        return _as_dict(_client().v1.subscriptions.retrieve(stripe_subscription_id))


def fetch_subscription_with_all_items(stripe_subscription_id: str) -> dict:
    """Like ``fetch_subscription``, with every item even when Stripe embeds only the first page.

    A partner's subscription has one item per client portal; an item missing from a truncated
    list must never read as "this portal left".
    """
    data = fetch_subscription(stripe_subscription_id)
    items = data.get("items") or {}
    if items.get("has_more"):
        with _translated_errors("list_subscription_items"):
            pages = _client().v1.subscription_items.list(params={"subscription": stripe_subscription_id,
                                                                 "limit": 100})
            data["items"] = {**items, "data": [_as_dict(item) for item in pages.auto_paging_iter()],
                             "has_more": False}
    return data


def fetch_invoice(stripe_invoice_id: str) -> dict:
    with _translated_errors("retrieve_invoice"):
        return _as_dict(_client().v1.invoices.retrieve(stripe_invoice_id))


def list_subscriptions() -> Iterator[dict]:
    """Every subscription in the Stripe account, cancelled ones included, page by page."""
    with _translated_errors("list_subscriptions"):
        pages = _client().v1.subscriptions.list(params={"status": "all", "limit": 100})
        for stripe_subscription in pages.auto_paging_iter():
            yield _as_dict(stripe_subscription)


def is_missing(error: PaymentProviderError) -> bool:
    """Stripe answered that the object does not exist (e.g. a deleted test subscription)."""
    return error.code == "resource_missing"
