"""Applying Stripe's state to ours: webhook events (run by a job) and the nightly reconciliation.

Three rules make every event safe to process twice, late or out of order:

1. An event is processed once: its stored row is locked and marked ``processed_at``.
2. An event is only a hint that something changed. The subscription (and the invoice) are
   re-fetched from Stripe and their *current* state is applied, so an old
   ``customer.subscription.updated`` delivered late re-applies today's state instead of
   rolling it back, and a late ``invoice.payment_failed`` for an invoice paid since finds the
   invoice paid and the subscription active.
3. The local subscription row is locked *before* Stripe is asked, so two jobs working on the
   same portal cannot apply an older answer after a newer one.

The portal's lifecycle (trial → active → past_due → suspended) follows the subscription's
status here; the step from past_due to suspended is the dunning job's (billing.dunning).

Partner-paid portals: a partner pays for its client portals on one Stripe subscription, one
item per portal (item metadata ``tenant_schema``). Events about it are recognised by the
partner's customer or subscription id; the subscription is re-fetched the same way and applied
to the ``PartnerBillingAccount`` and to every client portal from its own item. The partner's
account row is locked first, then its clients' subscription rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from billing import stripe_gateway
from billing.models import (
    BillingDrift,
    Invoice,
    PartnerBillingAccount,
    Plan,
    PlanPrice,
    StripeEvent,
    Subscription,
)
from billing.selectors import FREE_PLAN_CODE
from tenants import services as tenant_services
from tenants.lifecycle import ENDED
from tenants.models import Tenant

log = structlog.get_logger(__name__)

Status = Subscription.Status

# Stripe's subscription statuses in ours. ``paused`` (a trial that ended without a payment
# method) and ``unpaid`` both mean the portal is not paying: dunning treats them alike.
STATUS_FROM_STRIPE: dict[str, str] = {
    "active": Status.ACTIVE,
    "trialing": Status.TRIALING,
    "past_due": Status.PAST_DUE,
    "unpaid": Status.UNPAID,
    "paused": Status.UNPAID,
    "incomplete": Status.INCOMPLETE,
    "incomplete_expired": Status.CANCELED,
    "canceled": Status.CANCELED,
}
OWING = frozenset({Status.PAST_DUE, Status.UNPAID})
PAYING = frozenset({Status.ACTIVE, Status.TRIALING})


# --- Stripe's subscription, read ----------------------------------------------------------------

@dataclass(frozen=True)
class StripeSubscriptionState:
    """The fields of a Stripe subscription we mirror, read the same way whatever the API version."""

    id: str
    customer_id: str
    status: str
    price_id: str
    price_plan_code: str
    price_currency: str
    price_interval: str
    quantity: int
    current_period_end: datetime | None
    cancel_at_period_end: bool

    @classmethod
    def from_stripe(cls, data: dict, *, item: dict | None = None) -> StripeSubscriptionState:
        """The subscription as seen through ``item`` (its first item unless given).

        A partner's subscription is read once per client item: the price, quantity and period
        are the item's, the status and cancellation the subscription's.
        """
        if item is None:
            items = _items_of(data)
            item = items[0] if items else {}
        price = item.get("price") or {}
        # Since API version 2025-03-31 the period lives on the subscription item; older versions
        # keep it on the subscription.
        period_end = item.get("current_period_end") or data.get("current_period_end")
        return cls(
            id=data["id"],
            customer_id=data.get("customer") or "",
            status=STATUS_FROM_STRIPE.get(data.get("status", ""), Status.INCOMPLETE),
            price_id=price.get("id", ""),
            price_plan_code=(price.get("metadata") or {}).get("plan_code", ""),
            price_currency=(price.get("currency") or "").upper(),
            price_interval=(price.get("recurring") or {}).get("interval", ""),
            quantity=int(item.get("quantity") or 1),
            current_period_end=_from_timestamp(period_end),
            cancel_at_period_end=bool(data.get("cancel_at_period_end")),
        )


def _items_of(data: dict) -> list[dict]:
    return (data.get("items") or {}).get("data") or []


def _from_timestamp(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def _plan_price_for(state: StripeSubscriptionState) -> PlanPrice | None:
    """Our plan price behind a Stripe price: by its id, or by the plan code we put in its metadata."""
    if not state.price_id:
        return None
    price = PlanPrice.objects.select_related("plan").filter(stripe_price_id=state.price_id).first()
    if price is None and state.price_plan_code:
        price = PlanPrice.objects.select_related("plan").filter(
            plan__code=state.price_plan_code, currency=state.price_currency, interval=state.price_interval).first()
    return price


def _canceled_state(subscription: Subscription) -> StripeSubscriptionState:
    """What we apply when Stripe no longer knows the subscription at all."""
    return StripeSubscriptionState(
        id=subscription.stripe_subscription_id, customer_id=subscription.stripe_customer_id,
        status=Status.CANCELED, price_id="", price_plan_code="", price_currency="", price_interval="",
        quantity=subscription.seats or 1, current_period_end=subscription.current_period_end,
        cancel_at_period_end=False)


def current_state_of(subscription: Subscription) -> StripeSubscriptionState:
    try:
        return StripeSubscriptionState.from_stripe(
            stripe_gateway.fetch_subscription(subscription.stripe_subscription_id))
    except stripe_gateway.PaymentProviderError as error:
        if stripe_gateway.is_missing(error):
            return _canceled_state(subscription)
        raise


# --- Applying Stripe's state ------------------------------------------------------------------

def apply_state(subscription: Subscription, state: StripeSubscriptionState) -> Subscription:
    """Mirror Stripe's subscription on ours, then move the portal's lifecycle along with it."""
    was_owing = subscription.status in OWING or subscription.past_due_since is not None
    price = _plan_price_for(state)
    if price is not None:
        subscription.plan = price.plan
        subscription.currency = price.currency
        subscription.interval = price.interval
    elif state.price_id:
        log.warning("stripe.unknown_price", subscription=state.id, price=state.price_id)
    subscription.status = state.status
    subscription.seats = state.quantity if subscription.plan.per_seat else None
    subscription.current_period_end = state.current_period_end
    subscription.cancel_at_period_end = state.cancel_at_period_end
    if state.status in OWING:
        # The grace period runs from the first failure; later failed retries must not extend it.
        subscription.past_due_since = subscription.past_due_since or timezone.now()
    elif state.status in PAYING:
        subscription.past_due_since = None
    if subscription.scheduled_plan_id == subscription.plan_id and subscription.scheduled_seats == subscription.seats:
        subscription.scheduled_plan = None
        subscription.scheduled_seats = None
    subscription.save()
    _move_portal_along(subscription, was_owing=was_owing, stripe_subscription_id=state.id)
    return subscription


def _move_portal_along(subscription: Subscription, *, was_owing: bool, stripe_subscription_id: str) -> None:
    tenant = Tenant.objects.get(pk=subscription.tenant_id)  # fresh: never trust a cached instance's status
    target = _portal_status_for(subscription.status, tenant.status, was_owing=was_owing)
    if target is not None and target != tenant.status:
        tenant_services.set_status(tenant=tenant, status=target,
                                   reason=f"stripe subscription {stripe_subscription_id} is {subscription.status}")


def _portal_status_for(subscription_status: str, portal_status: str, *, was_owing: bool) -> str | None:
    """The lifecycle state a subscription status calls for, or None to leave the portal as it is."""
    if portal_status in ENDED:  # only a reactivation brings a cancelled portal back (tenants.transitions)
        return None
    if subscription_status == Status.ACTIVE:
        # Paying restores access at once, but only a suspension for non-payment is lifted by a
        # payment; a portal suspended for another reason stays suspended.
        if portal_status == Tenant.Status.SUSPENDED and not was_owing:
            return None
        return Tenant.Status.ACTIVE
    if subscription_status in OWING:
        # Suspension is the dunning job's decision, after the grace period; a webhook never undoes it.
        return None if portal_status == Tenant.Status.SUSPENDED else Tenant.Status.PAST_DUE
    return None


def sync_from_stripe(subscription: Subscription) -> Subscription:
    """Re-fetch the portal's own subscription from Stripe and apply it. The caller holds the row lock."""
    if subscription.is_partner_paid:
        # While a partner pays, plan and status come from the partner's subscription item; the
        # portal's own subscription (an old one, or a stray the reconciliation reports) must not
        # overwrite them. Its id is kept for when the portal pays for itself again.
        log.warning("stripe.own_subscription_of_partner_paid_portal", tenant=subscription.tenant_id,
                    subscription=subscription.stripe_subscription_id)
        subscription.save(update_fields=["stripe_customer_id", "stripe_subscription_id", "updated_at"])
        return subscription
    return apply_state(subscription, current_state_of(subscription))


# --- Partner-paid portals: one subscription, one item per client portal -------------------------

def _client_schema_in_metadata(item: dict) -> str:
    return (item.get("metadata") or {}).get(stripe_gateway.CLIENT_PORTAL_KEY, "")


def client_schema_of(item: dict, data: dict) -> str:
    """The client portal an item of a partner's subscription pays for ("" when it names none)."""
    schema = _client_schema_in_metadata(item)
    if schema:
        return schema
    first_client = (data.get("metadata") or {}).get(stripe_gateway.FIRST_CLIENT_PORTAL_KEY, "")
    unlabelled = [other["id"] for other in _items_of(data) if not _client_schema_in_metadata(other)]
    already_labelled = any(_client_schema_in_metadata(other) == first_client for other in _items_of(data))
    # The item Checkout created may come without our metadata; the subscription names its client.
    if first_client and unlabelled == [item["id"]] and not already_labelled:
        return first_client
    return ""


def client_items_of(data: dict | None) -> dict[str, dict]:
    """The items of a partner's subscription by client portal schema (the first one per portal counts)."""
    items: dict[str, dict] = {}
    for item in _items_of(data or {}):
        schema = client_schema_of(item, data)
        if not schema:
            log.warning("stripe.partner_item_without_portal", subscription=data.get("id"), item=item.get("id"))
        elif schema in items:
            log.warning("stripe.partner_item_duplicate", subscription=data.get("id"), item=item.get("id"),
                        tenant=schema)
        else:
            items[schema] = item
    return items


def partner_subscription_data(account: PartnerBillingAccount) -> dict | None:
    """Stripe's current view of the partner's subscription, or None when Stripe no longer has it."""
    try:
        return stripe_gateway.fetch_subscription_with_all_items(account.stripe_subscription_id)
    except stripe_gateway.PaymentProviderError as error:
        if stripe_gateway.is_missing(error):
            return None
        raise


def _ended_state(account: PartnerBillingAccount) -> StripeSubscriptionState:
    return StripeSubscriptionState(
        id=account.stripe_subscription_id, customer_id=account.stripe_customer_id, status=Status.CANCELED,
        price_id="", price_plan_code="", price_currency="", price_interval="", quantity=1,
        current_period_end=account.current_period_end, cancel_at_period_end=False)


def _apply_account_state(account: PartnerBillingAccount, state: StripeSubscriptionState) -> None:
    account.status = state.status
    account.currency = state.price_currency or account.currency
    account.interval = state.price_interval or account.interval
    account.current_period_end = state.current_period_end
    account.cancel_at_period_end = state.cancel_at_period_end
    if state.status in OWING:
        account.past_due_since = account.past_due_since or timezone.now()
    elif state.status in PAYING:
        account.past_due_since = None
    account.save()


def _label_unlabelled_items(items: dict[str, dict]) -> None:
    """Write the client's schema on items that lack it, so Stripe's records name every client."""
    for schema, item in items.items():
        if _client_schema_in_metadata(item):
            continue
        try:
            stripe_gateway.label_subscription_item(item["id"], tenant_schema=schema)
        except stripe_gateway.PaymentProviderError:
            # Not fatal: the subscription's metadata still names the first client.
            log.warning("stripe.partner_item_label_failed", item=item["id"], tenant=schema)


def _locked_clients_of(account: PartnerBillingAccount, schemas: list[str]) -> list[Subscription]:
    """The subscriptions this account pays for now, and those of its partner's portals Stripe bills.

    Only portals linked to the account's partner qualify: an item naming any other portal (a
    typo in the dashboard, a portal of another partner) never touches it.
    """
    billed_clients = Q(tenant__schema_name__in=schemas, tenant__partner_id=account.partner_id)
    return list(Subscription.objects.filter(Q(partner_account=account) | billed_clients)
                .select_for_update(of=("self",)).select_related("plan", "tenant").order_by("pk"))


def _apply_client_item(subscription: Subscription, account: PartnerBillingAccount, data: dict,
                       item: dict) -> None:
    if subscription.partner_account_id not in (None, account.pk):
        log.warning("stripe.partner_item_for_portal_paid_by_another", tenant=subscription.tenant_id,
                    account=account.pk, other=subscription.partner_account_id)
        return
    state = StripeSubscriptionState.from_stripe(data, item=item)
    subscription.partner_account = account
    subscription.stripe_subscription_item_id = item["id"]
    # The partner decides the plan: a downgrade the portal had scheduled for itself is void.
    subscription.scheduled_plan = None
    subscription.scheduled_seats = None
    if state.status in OWING:
        # One grace period for all clients: they pay together, so they are suspended together.
        subscription.past_due_since = subscription.past_due_since or account.past_due_since
    apply_state(subscription, state)


def release_from_partner_billing(subscription: Subscription) -> Subscription:
    """The portal is no longer partner-paid: back to its own subscription, or to the free plan.

    Nothing is deleted; whatever exceeds the free plan is blocked from growing (decision 0008).
    A portal that was overdue only because of its partner owes nothing any more.
    """
    was_owing = subscription.status in OWING or subscription.past_due_since is not None
    subscription.partner_account = None
    subscription.stripe_subscription_item_id = ""
    if subscription.stripe_subscription_id:
        own_state = current_state_of(subscription)
        if own_state.status != Status.CANCELED:
            return apply_state(subscription, own_state)
    subscription.plan = Plan.objects.get(code=FREE_PLAN_CODE)
    subscription.status = Status.FREE
    subscription.seats = None
    subscription.current_period_end = None
    subscription.cancel_at_period_end = False
    subscription.past_due_since = None
    subscription.scheduled_plan = None
    subscription.scheduled_seats = None
    subscription.save()
    tenant = Tenant.objects.get(pk=subscription.tenant_id)
    # The free plan owes nothing: as after a payment, a suspension for non-payment is lifted.
    target = _portal_status_for(Status.ACTIVE, tenant.status, was_owing=was_owing)
    if target is not None and target != tenant.status:
        tenant_services.set_status(tenant=tenant, status=target, reason="no longer paid by a partner; free plan")
    log.info("billing.left_partner_billing", tenant=tenant.schema_name)
    return subscription


def sync_partner_account(account: PartnerBillingAccount) -> PartnerBillingAccount:
    """Re-fetch the partner's subscription and apply it to the account and every client portal.

    The caller holds the account's row lock. A client whose item is gone, or whose partner's
    subscription ended, pays for itself again (``release_from_partner_billing``).
    """
    if not account.stripe_subscription_id:
        return account  # the first Checkout is not paid yet
    data = partner_subscription_data(account)
    state = StripeSubscriptionState.from_stripe(data) if data is not None else _ended_state(account)
    items = client_items_of(data) if state.status != Status.CANCELED else {}
    _apply_account_state(account, state)
    _label_unlabelled_items(items)
    clients = _locked_clients_of(account, list(items))
    for subscription in clients:
        item = items.get(subscription.tenant.schema_name)
        if item is not None:
            _apply_client_item(subscription, account, data, item)
        elif subscription.partner_account_id == account.pk:
            release_from_partner_billing(subscription)
    mirrored = {subscription.tenant.schema_name for subscription in clients}
    for schema in set(items) - mirrored:
        log.warning("stripe.partner_item_for_portal_not_linked", account=account.pk, tenant=schema,
                    item=items[schema]["id"])
    return account


def _locked_account(queryset) -> PartnerBillingAccount | None:
    return queryset.select_for_update(of=("self",)).select_related("partner").first()


def _is_partner_billing(*, stripe_subscription_id: str = "", customer_id: str = "") -> bool:
    """Whether an event's subscription or customer is a partner's rather than a portal's."""
    conditions = Q()
    if stripe_subscription_id:
        conditions |= Q(stripe_subscription_id=stripe_subscription_id)
    if customer_id:
        conditions |= Q(stripe_customer_id=customer_id)
    return bool(conditions) and PartnerBillingAccount.objects.filter(conditions).exists()


def _still_live_in_stripe(account: PartnerBillingAccount) -> bool:
    data = partner_subscription_data(account) if account.stripe_subscription_id else None
    return data is not None and STATUS_FROM_STRIPE.get(data.get("status", ""), Status.INCOMPLETE) != Status.CANCELED


def _may_adopt(account: PartnerBillingAccount, stripe_subscription_id: str) -> bool:
    """Whether ``stripe_subscription_id`` may become the partner's subscription.

    Only when its current one has ended: a second live subscription (two first checkouts paid)
    is logged for staff instead of silently moving the clients over. Asked of Stripe, not of
    our copy, which may not have seen the end of the old subscription yet.
    """
    if account.stripe_subscription_id in ("", stripe_subscription_id) or not _still_live_in_stripe(account):
        return True
    log.warning("stripe.second_partner_subscription_ignored", account=account.pk,
                current=account.stripe_subscription_id, other=stripe_subscription_id)
    return False


def _locked_partner_account_for(*, stripe_subscription_id: str, customer_id: str) -> PartnerBillingAccount | None:
    account = _locked_account(PartnerBillingAccount.objects.filter(stripe_subscription_id=stripe_subscription_id))
    if account is not None:
        return account
    account = _locked_account(PartnerBillingAccount.objects.filter(stripe_customer_id=customer_id)) \
        if customer_id else None
    if account is None or not _may_adopt(account, stripe_subscription_id):
        return None
    account.stripe_subscription_id = stripe_subscription_id
    return account


def _on_partner_checkout_completed(session: dict) -> None:
    account = _locked_partner_account_for(stripe_subscription_id=session["subscription"],
                                          customer_id=session.get("customer") or "")
    if account is not None:
        sync_partner_account(account)


def _on_partner_subscription_changed(snapshot: dict) -> None:
    account = _locked_partner_account_for(stripe_subscription_id=snapshot["id"],
                                          customer_id=snapshot.get("customer") or "")
    if account is not None:
        sync_partner_account(account)


def _on_partner_invoice_event(snapshot: dict) -> None:
    customer_id = snapshot.get("customer") or ""
    account = _locked_account(PartnerBillingAccount.objects.filter(stripe_customer_id=customer_id))
    if account is None:
        return
    invoice = stripe_gateway.fetch_invoice(snapshot["id"])
    record_invoice(partner_account_id=account.pk, invoice=invoice)
    stripe_subscription_id = _subscription_id_of_invoice(invoice)
    if stripe_subscription_id and _may_adopt(account, stripe_subscription_id):
        account.stripe_subscription_id = stripe_subscription_id
        sync_partner_account(account)


# --- Finding the local subscription an event is about -----------------------------------------

def _locked(queryset) -> Subscription | None:
    # of=self: lock the portal's subscription row, not the plan row every portal on that plan shares.
    return queryset.select_for_update(of=("self",)).select_related("plan").first()


def _locked_subscription_for(*, stripe_subscription_id: str, customer_id: str,
                             tenant_schema: str = "") -> Subscription | None:
    """The local subscription mirroring ``stripe_subscription_id``, linking it when that is safe.

    A Stripe subscription we have not linked yet (its ``created`` event can arrive before the
    checkout's ``completed``) is linked to the portal of its customer, unless that portal
    already has another live Stripe subscription: an old subscription's events must never
    overwrite the current one (reconciliation reports such strays to staff).
    """
    subscription = _locked(Subscription.objects.filter(stripe_subscription_id=stripe_subscription_id))
    if subscription is not None:
        return subscription
    candidate = _locked(Subscription.objects.filter(stripe_customer_id=customer_id)) if customer_id else None
    if candidate is None and tenant_schema:
        candidate = _locked(Subscription.objects.filter(tenant__schema_name=tenant_schema,
                                                        stripe_customer_id__in=["", customer_id]))
    if candidate is None:
        return None
    if candidate.stripe_subscription_id and candidate.status != Status.CANCELED:
        log.warning("stripe.second_subscription_ignored", tenant=candidate.tenant_id,
                    current=candidate.stripe_subscription_id, other=stripe_subscription_id)
        return None
    candidate.stripe_subscription_id = stripe_subscription_id
    candidate.stripe_customer_id = customer_id or candidate.stripe_customer_id
    return candidate


# --- Event handlers ---------------------------------------------------------------------------

def _on_checkout_completed(session: dict) -> None:
    if session.get("mode") != "subscription" or not session.get("subscription"):
        log.info("stripe.checkout_without_subscription", session=session.get("id"))
        return
    if _is_partner_billing(customer_id=session.get("customer") or ""):
        _on_partner_checkout_completed(session)
        return
    schema = session.get("client_reference_id") or (session.get("metadata") or {}).get("tenant_schema", "")
    subscription = _locked(Subscription.objects.filter(tenant__schema_name=schema)) if schema else None
    if subscription is None:
        log.warning("stripe.checkout_for_unknown_portal", session=session.get("id"), client_reference_id=schema)
        return
    if subscription.stripe_subscription_id and subscription.stripe_subscription_id != session["subscription"]:
        # The customer paid for a new subscription on purpose (e.g. after cancelling): it wins.
        log.warning("stripe.subscription_replaced", tenant=schema, previous=subscription.stripe_subscription_id,
                    current=session["subscription"])
    subscription.stripe_customer_id = session.get("customer") or subscription.stripe_customer_id
    subscription.stripe_subscription_id = session["subscription"]
    sync_from_stripe(subscription)


def _on_subscription_changed(snapshot: dict) -> None:
    if _is_partner_billing(stripe_subscription_id=snapshot["id"], customer_id=snapshot.get("customer") or ""):
        _on_partner_subscription_changed(snapshot)
        return
    subscription = _locked_subscription_for(
        stripe_subscription_id=snapshot["id"], customer_id=snapshot.get("customer") or "",
        tenant_schema=(snapshot.get("metadata") or {}).get("tenant_schema", ""))
    if subscription is None:
        log.warning("stripe.subscription_for_unknown_portal", subscription=snapshot["id"])
        return
    sync_from_stripe(subscription)


def _subscription_id_of_invoice(invoice: dict) -> str:
    # Since API version 2025-03-31 an invoice names its subscription under parent.subscription_details.
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return details.get("subscription") or invoice.get("subscription") or ""


def _on_invoice_event(snapshot: dict) -> None:
    """invoice.paid, invoice.payment_failed and invoice.finalized alike: their state is re-read.

    Which event it was does not matter: the invoice's own current status is recorded and
    the subscription's current status decides the portal's state.
    """
    customer_id = snapshot.get("customer") or ""
    if _is_partner_billing(customer_id=customer_id):
        _on_partner_invoice_event(snapshot)
        return
    portal_subscription = _locked(Subscription.objects.filter(stripe_customer_id=customer_id)) if customer_id else None
    if portal_subscription is None:
        log.warning("stripe.invoice_for_unknown_customer", invoice=snapshot.get("id"), customer=customer_id)
        return
    invoice = stripe_gateway.fetch_invoice(snapshot["id"])
    record_invoice(tenant_id=portal_subscription.tenant_id, invoice=invoice)
    stripe_subscription_id = _subscription_id_of_invoice(invoice)
    if not stripe_subscription_id:
        return
    subscription = _locked_subscription_for(stripe_subscription_id=stripe_subscription_id, customer_id=customer_id)
    if subscription is not None:
        sync_from_stripe(subscription)


def record_invoice(*, invoice: dict, tenant_id: int | None = None, partner_account_id: int | None = None) -> Invoice:
    """Insert or update our copy of a Stripe invoice (one row per Stripe invoice id).

    Made out to a portal, or to a partner paying for several (exactly one of the two ids).
    """
    row, _created = Invoice.objects.update_or_create(stripe_invoice_id=invoice["id"], defaults={
        "tenant_id": tenant_id,
        "partner_account_id": partner_account_id,
        "number": invoice.get("number") or "",
        "status": invoice.get("status") or "",
        "currency": (invoice.get("currency") or "").upper(),
        "amount_due": int(invoice.get("amount_due") or 0),
        "amount_paid": int(invoice.get("amount_paid") or 0),
        "hosted_invoice_url": invoice.get("hosted_invoice_url") or "",
        "created_at": _from_timestamp(invoice.get("created")) or timezone.now(),
    })
    return row


EventHandler = Callable[[dict], None]
HANDLERS: dict[str, EventHandler] = {
    "checkout.session.completed": _on_checkout_completed,
    "customer.subscription.created": _on_subscription_changed,
    "customer.subscription.updated": _on_subscription_changed,
    "customer.subscription.deleted": _on_subscription_changed,
    "invoice.paid": _on_invoice_event,
    "invoice.payment_failed": _on_invoice_event,
    "invoice.finalized": _on_invoice_event,
}


# --- Processing a stored event ----------------------------------------------------------------

class Outcome:
    PROCESSED = "processed"
    ALREADY_PROCESSED = "already processed"
    NOT_STORED = "not stored"


def process_event(event_id: str) -> str:
    """Apply one stored webhook event exactly once; safe to call again with the same id.

    A failure rolls the effects back, records the attempt and the error on the event and
    re-raises, so the job is retried by dramatiq.
    """
    try:
        with transaction.atomic():
            # The lock makes a second worker holding the same id wait, then see processed_at.
            event = StripeEvent.objects.select_for_update().filter(pk=event_id).first()
            if event is None:
                log.warning("stripe.event_not_stored", event_id=event_id)
                return Outcome.NOT_STORED
            if event.processed_at is not None:
                return Outcome.ALREADY_PROCESSED
            handler = HANDLERS.get(event.type)
            if handler is None:
                log.info("stripe.event_acknowledged", event_id=event_id, type=event.type)
            else:
                handler(event.payload["data"]["object"])
            StripeEvent.objects.filter(pk=event_id).update(processed_at=timezone.now(), attempts=F("attempts") + 1,
                                                           last_error="")
    except Exception as error:
        StripeEvent.objects.filter(pk=event_id).update(attempts=F("attempts") + 1,
                                                       last_error=f"{type(error).__name__}: {error}"[:2000])
        log.warning("stripe.event_failed", event_id=event_id, error=type(error).__name__)
        raise
    log.info("stripe.event_processed", event_id=event_id, type=event.type)
    return Outcome.PROCESSED


def unprocessed_event_ids(*, received_before: datetime) -> list[str]:
    """Events still waiting, e.g. because the broker was down when they arrived."""
    return list(StripeEvent.objects.filter(processed_at__isnull=True, received_at__lt=received_before)
                .order_by("received_at").values_list("id", flat=True))


# --- Nightly reconciliation -------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    field: str
    local_value: str
    stripe_value: str

    @property
    def differs(self) -> bool:
        return self.local_value != self.stripe_value


def _as_text(value: datetime | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(microsecond=0).isoformat()
    return str(value)


def compare(subscription: Subscription, data: dict | None) -> list[Comparison]:
    """Field by field, our subscription against Stripe's (``None``: Stripe does not have it)."""
    if data is None:
        return [Comparison("subscription", subscription.stripe_subscription_id, "")]
    state = StripeSubscriptionState.from_stripe(data)
    return [Comparison("subscription", subscription.stripe_subscription_id, state.id),
            *_compare_mirrored_fields(subscription, state)]


def _compare_mirrored_fields(subscription: Subscription, state: StripeSubscriptionState) -> list[Comparison]:
    price = _plan_price_for(state)
    stripe_plan = price.plan if price is not None else None
    comparisons = [
        Comparison("status", subscription.status, state.status),
        Comparison("plan", subscription.plan.code, stripe_plan.code if stripe_plan else f"? {state.price_id}"),
        Comparison("current_period_end", _as_text(subscription.current_period_end),
                   _as_text(state.current_period_end)),
    ]
    if subscription.plan.per_seat or (stripe_plan is not None and stripe_plan.per_seat):
        comparisons.append(Comparison("seats", _as_text(subscription.seats), _as_text(state.quantity)))
    return comparisons


def _record(tenant_id: int, comparison: Comparison, *, now: datetime,
            replaces_others: bool = True) -> BillingDrift | None:
    """One unresolved drift row per (portal, field, values); a drift that went away is resolved."""
    open_drifts = BillingDrift.objects.filter(tenant_id=tenant_id, field=comparison.field, resolved_at__isnull=True)
    if not comparison.differs:
        open_drifts.update(resolved_at=now)
        return None
    if replaces_others:
        open_drifts.exclude(local_value=comparison.local_value[:200],
                            stripe_value=comparison.stripe_value[:200]).update(resolved_at=now)
    drift, created = BillingDrift.objects.get_or_create(
        tenant_id=tenant_id, field=comparison.field, local_value=comparison.local_value[:200],
        stripe_value=comparison.stripe_value[:200], resolved_at=None)
    log.warning("billing.drift", tenant=tenant_id, field=comparison.field, local=comparison.local_value,
                stripe=comparison.stripe_value, new=created)
    return drift


STRAY = "stray_subscription"
ITEM = "subscription_item"
STRAY_ITEM = "stray_subscription_item"


def compare_client_item(subscription: Subscription, data: dict | None, item: dict | None) -> list[Comparison]:
    """A partner-paid portal against its item on the partner's subscription (``None``: not there)."""
    if data is None or item is None:
        return [Comparison(ITEM, subscription.stripe_subscription_item_id, "")]
    state = StripeSubscriptionState.from_stripe(data, item=item)
    return [Comparison(ITEM, subscription.stripe_subscription_item_id, item["id"]),
            *_compare_mirrored_fields(subscription, state)]


def _reconcile_partner_accounts(remote: dict[str, dict], *, now: datetime) -> list[BillingDrift]:
    """Every partner-paid portal against its item, and every billed item against a portal.

    Drift rows stay per portal: an item a partner is billed for, for a portal that is not its
    partner-paid client here, is a stray item reported on that portal (like a stray subscription).
    """
    drifts: list[BillingDrift] = []
    stray_items: list[BillingDrift] = []
    accounts = PartnerBillingAccount.objects.select_related("partner").exclude(stripe_subscription_id="")
    for account in accounts:
        data = remote.get(account.stripe_subscription_id)
        if data is not None and (data.get("items") or {}).get("has_more"):
            data = stripe_gateway.fetch_subscription_with_all_items(data["id"])  # the list embeds one page
        items = client_items_of(data)
        clients = Subscription.objects.select_related("plan", "tenant").filter(partner_account=account)
        for client in clients:
            for comparison in compare_client_item(client, data, items.pop(client.tenant.schema_name, None)):
                drifts.append(_record(client.tenant_id, comparison, now=now))
        if data is None or STATUS_FROM_STRIPE.get(data.get("status", "")) == Status.CANCELED:
            continue  # an ended subscription keeps its items, but bills nobody
        for schema, item in items.items():
            tenant_id = Tenant.objects.filter(schema_name=schema).values_list("pk", flat=True).first()
            if tenant_id is None:
                log.warning("billing.partner_item_without_portal", account=account.pk, item=item["id"], tenant=schema)
                continue
            stray = Comparison(STRAY_ITEM, "", f"{item['id']} ({account.partner.slug})")
            # A portal may be on several partners' bills, so one stray item does not replace another.
            stray_items.append(_record(tenant_id, stray, now=now, replaces_others=False))
    # A stray item that was removed since is no longer a difference.
    BillingDrift.objects.filter(field=STRAY_ITEM, resolved_at__isnull=True).exclude(
        pk__in=[drift.pk for drift in stray_items]).update(resolved_at=now)
    return [drift for drift in drifts if drift is not None] + stray_items


def _stray_subscriptions(remote: dict[str, dict], linked_ids: set[str]) -> list[tuple[Subscription, dict]]:
    """Live Stripe subscriptions of our customers that no portal mirrors: a portal billed twice."""
    strays = []
    for data in remote.values():
        if data["id"] in linked_ids or data.get("status") in ("canceled", "incomplete_expired"):
            continue
        owner = Subscription.objects.filter(stripe_customer_id=data.get("customer") or "-").first()
        if owner is None:
            # Drift rows belong to portals; a partner's second subscription is only logged.
            is_partners = _is_partner_billing(customer_id=data.get("customer") or "")
            log.warning("billing.partner_stray_subscription" if is_partners
                        else "billing.stripe_subscription_without_portal", subscription=data["id"])
            continue
        strays.append((owner, data))
    return strays


def reconcile_with_stripe(*, now: datetime | None = None) -> list[BillingDrift]:
    """Compare every linked subscription with Stripe and record the differences for staff.

    Reports only: Stripe is the source of truth, but a difference usually means a lost
    webhook or a bug, and staff should see it rather than have it silently overwritten.
    """
    now = now or timezone.now()
    remote = {data["id"]: data for data in stripe_gateway.list_subscriptions()}
    # A partner-paid portal is compared with its item below, not with its own (ended) subscription.
    linked = Subscription.objects.select_related("plan").exclude(stripe_subscription_id="").filter(
        partner_account__isnull=True)
    drifts: list[BillingDrift] = []
    with transaction.atomic():
        for subscription in linked:
            for comparison in compare(subscription, remote.get(subscription.stripe_subscription_id)):
                drift = _record(subscription.tenant_id, comparison, now=now)
                if drift is not None:
                    drifts.append(drift)
        drifts += _reconcile_partner_accounts(remote, now=now)
        linked_ids = {subscription.stripe_subscription_id for subscription in linked}
        linked_ids |= set(PartnerBillingAccount.objects.exclude(stripe_subscription_id="")
                          .values_list("stripe_subscription_id", flat=True))
        strays = []
        for owner, data in _stray_subscriptions(remote, linked_ids):
            stray = Comparison(STRAY, "", f"{data['id']} ({data.get('status')})")
            # A portal may have several strays, so one does not replace another.
            strays.append(_record(owner.tenant_id, stray, now=now, replaces_others=False))
        # A stray that was cancelled since is no longer a difference.
        BillingDrift.objects.filter(field=STRAY, resolved_at__isnull=True).exclude(
            pk__in=[drift.pk for drift in strays]).update(resolved_at=now)
    return drifts + strays
