"""Processing Stripe's events: Stripe's current state wins, whatever the order or number of deliveries."""

from __future__ import annotations

import pytest
from django.test import Client

from billing import stripe_sync
from billing.models import Invoice, StripeEvent, Subscription
from billing.selectors import plan_and_seats
from billing.tests.fake_stripe import (
    deliver,
    fake_stripe_fixture,  # noqa: F401
    period_end_of,
    portal_status_changes_fixture,  # noqa: F401
    start_checkout,
    subscribe,
)
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_client(portals) -> Client:
    return Client()


def _subscription(portal) -> Subscription:
    return Subscription.objects.select_related("plan").get(tenant=portal.tenant)


def _portal_status(portal) -> str:
    return Tenant.objects.get(pk=portal.tenant.pk).status


def test_checkout_completion_links_stripe_and_makes_the_trial_portal_active(
        portal_a, stripe_client, fake_stripe, portal_status_changes):
    session = start_checkout(fake_stripe, portal_a.tenant, plan_code="team")
    outcome = fake_stripe.complete_checkout(session["id"])

    deliver(stripe_client, fake_stripe.event("checkout.session.completed", outcome.session))

    subscription = _subscription(portal_a)
    assert subscription.stripe_customer_id == outcome.session["customer"]
    assert subscription.stripe_subscription_id == outcome.subscription["id"]
    assert (subscription.status, subscription.plan.code, subscription.currency, subscription.interval) == (
        "active", "team", "PLN", "month")
    assert subscription.seats is None
    assert subscription.current_period_end == period_end_of(outcome.subscription)
    assert portal_status_changes == [(portal_a.tenant.schema_name, "trial", "active")]


def test_the_subscription_can_arrive_before_the_checkout_and_is_linked_by_its_customer(
        portal_a, stripe_client, fake_stripe, portal_status_changes):
    session = start_checkout(fake_stripe, portal_a.tenant, plan_code="per-seat", seats=7)
    outcome = fake_stripe.complete_checkout(session["id"])

    deliver(stripe_client, fake_stripe.event("invoice.paid", outcome.invoice))
    deliver(stripe_client, fake_stripe.event("customer.subscription.created", outcome.subscription))
    deliver(stripe_client, fake_stripe.event("checkout.session.completed", outcome.session))

    subscription = _subscription(portal_a)
    assert subscription.stripe_subscription_id == outcome.subscription["id"]
    assert (subscription.plan.code, subscription.seats, subscription.status) == ("per-seat", 7, "active")
    assert Invoice.objects.get(tenant=portal_a.tenant).amount_paid == 7 * 3900  # 7 users × 39,00 zł
    assert portal_status_changes == [(portal_a.tenant.schema_name, "trial", "active")]


def test_an_older_subscription_update_arriving_late_does_not_roll_back_newer_state(
        portal_a, stripe_client, fake_stripe):
    outcome = subscribe(fake_stripe, stripe_client, portal_a.tenant, plan_code="per-seat", seats=5)
    sub_id = outcome.subscription["id"]
    older = fake_stripe.event("customer.subscription.updated", fake_stripe.set_subscription_quantity(sub_id, 6),
                              previous_attributes={"items": {"data": [{"quantity": 5}]}})
    newer = fake_stripe.event("customer.subscription.updated", fake_stripe.set_subscription_quantity(sub_id, 9),
                              previous_attributes={"items": {"data": [{"quantity": 6}]}})

    deliver(stripe_client, newer)
    assert _subscription(portal_a).seats == 9
    deliver(stripe_client, older)  # its snapshot says 6, but Stripe says 9 now
    assert _subscription(portal_a).seats == 9


def test_a_replayed_old_event_changes_nothing(portal_a, stripe_client, fake_stripe, portal_status_changes):
    outcome = subscribe(fake_stripe, stripe_client, portal_a.tenant)
    failed_invoice = fake_stripe.renew(outcome.subscription["id"], paid=False)
    payment_failed = fake_stripe.event("invoice.payment_failed", failed_invoice)
    deliver(stripe_client, payment_failed)
    fake_stripe.pay_invoice(failed_invoice["id"])
    deliver(stripe_client, fake_stripe.event("invoice.paid", fake_stripe.snapshot("invoices", failed_invoice["id"])))
    assert _portal_status(portal_a) == "active"

    # Stripe redelivers the old failure (same event id), then a stale past_due snapshot arrives.
    assert deliver(stripe_client, payment_failed) == stripe_sync.Outcome.ALREADY_PROCESSED
    stale = dict(fake_stripe.snapshot("subscriptions", outcome.subscription["id"]), status="past_due")
    deliver(stripe_client, fake_stripe.event("customer.subscription.updated", stale))

    assert _portal_status(portal_a) == "active"
    assert _subscription(portal_a).past_due_since is None
    assert StripeEvent.objects.filter(pk=payment_failed["id"]).count() == 1
    schema = portal_a.tenant.schema_name
    assert portal_status_changes == [(schema, "trial", "active"), (schema, "active", "past_due"),
                                     (schema, "past_due", "active")]


def test_a_late_payment_failure_for_an_invoice_paid_since_does_not_make_the_portal_owe(
        portal_a, stripe_client, fake_stripe, portal_status_changes):
    outcome = subscribe(fake_stripe, stripe_client, portal_a.tenant)
    failed_invoice = fake_stripe.renew(outcome.subscription["id"], paid=False)
    payment_failed = fake_stripe.event("invoice.payment_failed", failed_invoice)  # delivery delayed
    paid_invoice = fake_stripe.pay_invoice(failed_invoice["id"])

    deliver(stripe_client, fake_stripe.event("invoice.paid", paid_invoice))
    deliver(stripe_client, payment_failed)

    subscription = _subscription(portal_a)
    assert (subscription.status, subscription.past_due_since) == ("active", None)
    assert _portal_status(portal_a) == "active"
    assert Invoice.objects.get(stripe_invoice_id=failed_invoice["id"]).status == "paid"
    assert portal_status_changes == [(portal_a.tenant.schema_name, "trial", "active")]


def test_a_failed_payment_makes_the_portal_past_due_and_later_failures_keep_the_first_date(
        portal_a, stripe_client, fake_stripe):
    outcome = subscribe(fake_stripe, stripe_client, portal_a.tenant)
    failed_invoice = fake_stripe.renew(outcome.subscription["id"], paid=False)
    deliver(stripe_client, fake_stripe.event("invoice.payment_failed", failed_invoice))
    first_failure = _subscription(portal_a).past_due_since
    assert first_failure is not None
    assert _portal_status(portal_a) == "past_due"

    # Stripe's next retry fails too: a new event about the same invoice.
    deliver(stripe_client, fake_stripe.event("invoice.payment_failed", fake_stripe.snapshot("invoices",
                                                                                               failed_invoice["id"])))
    assert _subscription(portal_a).past_due_since == first_failure
    invoice = Invoice.objects.get(stripe_invoice_id=failed_invoice["id"])
    assert (invoice.status, invoice.amount_due, invoice.amount_paid, invoice.currency) == ("open", 29900, 0, "PLN")


def test_a_deleted_subscription_is_cancelled_and_the_portal_falls_back_to_free_limits(
        portal_a, stripe_client, fake_stripe):
    outcome = subscribe(fake_stripe, stripe_client, portal_a.tenant, plan_code="business")
    deliver(stripe_client, fake_stripe.event("customer.subscription.deleted",
                                             fake_stripe.cancel_subscription(outcome.subscription["id"])))
    subscription = _subscription(portal_a)
    assert subscription.status == "canceled"
    assert plan_and_seats(portal_a.tenant)[0].code == "free"
    assert _portal_status(portal_a) == "active"  # nothing is locked or deleted


def test_a_subscription_stripe_no_longer_knows_counts_as_cancelled(portal_a, stripe_client, fake_stripe):
    outcome = subscribe(fake_stripe, stripe_client, portal_a.tenant)
    event = fake_stripe.event("customer.subscription.deleted", outcome.subscription)
    del fake_stripe.subscriptions[outcome.subscription["id"]]
    deliver(stripe_client, event)
    assert _subscription(portal_a).status == "canceled"


def test_an_old_subscriptions_events_do_not_touch_the_current_one(portal_a, stripe_client, fake_stripe):
    old = subscribe(fake_stripe, stripe_client, portal_a.tenant, plan_code="start")
    deliver(stripe_client, fake_stripe.event("customer.subscription.deleted",
                                             fake_stripe.cancel_subscription(old.subscription["id"])))
    current = subscribe(fake_stripe, stripe_client, portal_a.tenant, plan_code="team")

    # The old subscription's cancellation is delivered once more, under a new event id.
    deliver(stripe_client, fake_stripe.event("customer.subscription.deleted",
                                             fake_stripe.snapshot("subscriptions", old.subscription["id"])))
    subscription = _subscription(portal_a)
    assert subscription.stripe_subscription_id == current.subscription["id"]
    assert (subscription.status, subscription.plan.code) == ("active", "team")


def test_events_about_someone_we_do_not_know_are_acknowledged_without_effect(
        portal_a, stripe_client, fake_stripe, portal_status_changes):
    session = start_checkout(fake_stripe, portal_a.tenant)
    outcome = fake_stripe.complete_checkout(session["id"])
    foreign_session = dict(outcome.session, client_reference_id="t_nieistniejacy", metadata={})
    foreign_invoice = dict(outcome.invoice, customer="cus_ObcyKlient0001")

    assert deliver(stripe_client, fake_stripe.event("checkout.session.completed", foreign_session)) == "processed"
    assert deliver(stripe_client, fake_stripe.event("invoice.paid", foreign_invoice)) == "processed"
    assert _subscription(portal_a).stripe_subscription_id == ""
    assert not Invoice.objects.exists()
    assert portal_status_changes == []


def test_every_event_of_a_billing_history_delivered_twice_in_reverse_order_applies_each_effect_once(
        portal_a, stripe_client, fake_stripe, portal_status_changes):
    """Stripe's current state is applied once; every other delivery finds nothing left to do."""
    session = start_checkout(fake_stripe, portal_a.tenant, plan_code="team")
    outcome = fake_stripe.complete_checkout(session["id"])
    sub_id = outcome.subscription["id"]
    history = [
        fake_stripe.event("checkout.session.completed", outcome.session),
        fake_stripe.event("customer.subscription.created", outcome.subscription),
        fake_stripe.event("invoice.finalized", outcome.invoice),
        fake_stripe.event("invoice.paid", outcome.invoice),
    ]
    failed = fake_stripe.renew(sub_id, paid=False)
    history += [fake_stripe.event("invoice.finalized", failed), fake_stripe.event("invoice.payment_failed", failed),
                fake_stripe.event("customer.subscription.updated", fake_stripe.snapshot("subscriptions", sub_id))]
    paid = fake_stripe.pay_invoice(failed["id"])
    history += [fake_stripe.event("invoice.paid", paid),
                fake_stripe.event("customer.subscription.updated", fake_stripe.snapshot("subscriptions", sub_id))]

    for event in reversed(history):
        deliver(stripe_client, event)
    for event in history:
        assert deliver(stripe_client, event) == stripe_sync.Outcome.ALREADY_PROCESSED

    subscription = _subscription(portal_a)
    assert (subscription.status, subscription.plan.code, subscription.past_due_since) == ("active", "team", None)
    assert sorted(Invoice.objects.filter(tenant=portal_a.tenant).values_list("status", flat=True)) == ["paid", "paid"]
    assert StripeEvent.objects.count() == len(history)
    assert portal_status_changes == [(portal_a.tenant.schema_name, "trial", "active")]


def test_a_closed_portal_is_never_reopened_by_a_payment(portal_a, stripe_client, fake_stripe, portal_status_changes):
    session = start_checkout(fake_stripe, portal_a.tenant)
    outcome = fake_stripe.complete_checkout(session["id"])
    Tenant.objects.filter(pk=portal_a.tenant.pk).update(status=Tenant.Status.CLOSED)
    deliver(stripe_client, fake_stripe.event("checkout.session.completed", outcome.session))
    assert _portal_status(portal_a) == "closed"
    assert portal_status_changes == []
