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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing import stripe_gateway
from billing.models import BillingDrift, Invoice, PlanPrice, StripeEvent, Subscription
from tenants import services as tenant_services
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
    def from_stripe(cls, data: dict) -> StripeSubscriptionState:
        item = ((data.get("items") or {}).get("data") or [{}])[0]
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
    _move_portal_along(subscription, was_owing=was_owing)
    return subscription


def _move_portal_along(subscription: Subscription, *, was_owing: bool) -> None:
    tenant = Tenant.objects.get(pk=subscription.tenant_id)  # fresh: never trust a cached instance's status
    target = _portal_status_for(subscription.status, tenant.status, was_owing=was_owing)
    if target is not None and target != tenant.status:
        tenant_services.set_status(tenant=tenant, status=target,
                                   reason=f"stripe subscription {subscription.stripe_subscription_id} "
                                          f"is {subscription.status}")


def _portal_status_for(subscription_status: str, portal_status: str, *, was_owing: bool) -> str | None:
    """The lifecycle state a subscription status calls for, or None to leave the portal as it is."""
    if portal_status == Tenant.Status.CLOSED:
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
    """Re-fetch the subscription from Stripe and apply it. The caller holds the row lock."""
    return apply_state(subscription, current_state_of(subscription))


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


def record_invoice(*, tenant_id: int, invoice: dict) -> Invoice:
    """Insert or update our copy of a Stripe invoice (one row per Stripe invoice id)."""
    row, _created = Invoice.objects.update_or_create(stripe_invoice_id=invoice["id"], defaults={
        "tenant_id": tenant_id,
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
    price = _plan_price_for(state)
    stripe_plan = price.plan if price is not None else None
    comparisons = [
        Comparison("subscription", subscription.stripe_subscription_id, state.id),
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


def _stray_subscriptions(remote: dict[str, dict], linked_ids: set[str]) -> list[tuple[Subscription, dict]]:
    """Live Stripe subscriptions of our customers that no portal mirrors: a portal billed twice."""
    strays = []
    for data in remote.values():
        if data["id"] in linked_ids or data.get("status") in ("canceled", "incomplete_expired"):
            continue
        owner = Subscription.objects.filter(stripe_customer_id=data.get("customer") or "-").first()
        if owner is None:
            log.warning("billing.stripe_subscription_without_portal", subscription=data["id"])
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
    linked = Subscription.objects.select_related("plan").exclude(stripe_subscription_id="")
    drifts: list[BillingDrift] = []
    with transaction.atomic():
        for subscription in linked:
            for comparison in compare(subscription, remote.get(subscription.stripe_subscription_id)):
                drift = _record(subscription.tenant_id, comparison, now=now)
                if drift is not None:
                    drifts.append(drift)
        linked_ids = {subscription.stripe_subscription_id for subscription in linked}
        strays = []
        for owner, data in _stray_subscriptions(remote, linked_ids):
            stray = Comparison(STRAY, "", f"{data['id']} ({data.get('status')})")
            # A portal may have several strays, so one does not replace another.
            strays.append(_record(owner.tenant_id, stray, now=now, replaces_others=False))
        # A stray that was cancelled since is no longer a difference.
        BillingDrift.objects.filter(field=STRAY, resolved_at__isnull=True).exclude(
            pk__in=[drift.pk for drift in strays]).update(resolved_at=now)
    return drifts + strays
