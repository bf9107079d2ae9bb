"""The nightly reconciliation: differences between our subscriptions and Stripe's reach staff, once each."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from billing import stripe_sync
from billing.models import BillingDrift, Plan, Subscription
from billing.tests.fake_stripe import (
    fake_stripe_fixture,  # noqa: F401
    subscribe,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_client(portals) -> Client:
    return Client()


def _open_drifts(portal) -> set[tuple[str, str, str]]:
    return set(BillingDrift.objects.filter(tenant=portal.tenant, resolved_at__isnull=True)
               .values_list("field", "local_value", "stripe_value"))


def test_a_subscription_in_step_with_stripe_reports_nothing(portal_a, stripe_client, fake_stripe):
    subscribe(fake_stripe, stripe_client, portal_a.tenant, plan_code="per-seat", seats=4)
    assert stripe_sync.reconcile_with_stripe() == []
    assert not BillingDrift.objects.exists()


def test_differences_are_reported_once_each_and_resolved_when_they_go_away(portal_a, stripe_client, fake_stripe):
    outcome = subscribe(fake_stripe, stripe_client, portal_a.tenant, plan_code="per-seat", seats=4)
    # A lost webhook: Stripe has 6 seats and a failed renewal; we still think 4 seats, active.
    fake_stripe.set_subscription_quantity(outcome.subscription["id"], 6)
    fake_stripe.set_subscription_status(outcome.subscription["id"], "past_due")
    local = Subscription.objects.get(tenant=portal_a.tenant)
    period_end = local.current_period_end

    stripe_sync.reconcile_with_stripe()
    stripe_sync.reconcile_with_stripe()  # the next night: same differences, no new rows

    assert _open_drifts(portal_a) == {("seats", "4", "6"), ("status", "active", "past_due")}
    assert BillingDrift.objects.filter(tenant=portal_a.tenant).count() == 2

    # Someone fixes our side; the next run resolves what no longer differs.
    Subscription.objects.filter(pk=local.pk).update(seats=6, status="past_due", current_period_end=period_end)
    stripe_sync.reconcile_with_stripe()
    assert _open_drifts(portal_a) == set()
    assert BillingDrift.objects.filter(tenant=portal_a.tenant, resolved_at__isnull=False).count() == 2


def test_plan_and_period_differences_are_reported(portal_a, stripe_client, fake_stripe):
    subscribe(fake_stripe, stripe_client, portal_a.tenant, plan_code="team")
    local = Subscription.objects.get(tenant=portal_a.tenant)
    Subscription.objects.filter(pk=local.pk).update(
        plan=Plan.objects.get(code="business"), current_period_end=local.current_period_end - timedelta(days=30))

    stripe_sync.reconcile_with_stripe()

    drifts = {field: (local_value, stripe_value) for field, local_value, stripe_value in _open_drifts(portal_a)}
    assert drifts["plan"] == ("business", "team")
    assert drifts["current_period_end"][1] == stripe_sync._as_text(local.current_period_end)
    assert set(drifts) == {"plan", "current_period_end"}


def test_a_subscription_stripe_does_not_have_is_reported(portal_a, stripe_client, fake_stripe):
    outcome = subscribe(fake_stripe, stripe_client, portal_a.tenant)
    del fake_stripe.subscriptions[outcome.subscription["id"]]
    stripe_sync.reconcile_with_stripe()
    assert _open_drifts(portal_a) == {("subscription", outcome.subscription["id"], "")}


def test_a_second_live_stripe_subscription_of_a_portal_is_reported_as_a_stray(portal_a, stripe_client, fake_stripe):
    outcome = subscribe(fake_stripe, stripe_client, portal_a.tenant, plan_code="team")
    price_id = outcome.subscription["items"]["data"][0]["price"]["id"]
    stray = fake_stripe.create_subscription(customer=outcome.subscription["customer"], price_id=price_id)

    stripe_sync.reconcile_with_stripe()
    assert _open_drifts(portal_a) == {("stray_subscription", "", f"{stray['id']} (active)")}

    fake_stripe.cancel_subscription(stray["id"])
    stripe_sync.reconcile_with_stripe()
    assert _open_drifts(portal_a) == set()


def test_portals_without_a_stripe_subscription_are_not_compared(portal_a, portal_b, fake_stripe):
    assert stripe_sync.reconcile_with_stripe() == []
    [request] = fake_stripe.requests_to("GET", "/v1/subscriptions")
    assert request.params == {"status": "all", "limit": "100"}
