"""Acceptance: a trial portal subscribes, stops paying, becomes read-only, pays and is back at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from billing import dunning
from billing.models import Invoice, Subscription
from billing.tests.fake_stripe import (
    deliver,
    fake_stripe_fixture,  # noqa: F401
    portal_status_changes_fixture,  # noqa: F401
)
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_trial_portal_subscribes_falls_behind_becomes_read_only_and_pays_its_way_back(
        portal_a, fake_stripe, portal_status_changes):
    tenant, schema = portal_a.tenant, portal_a.tenant.schema_name
    owner = portal_a.client(logged_in=True)
    stripe = Client()  # Stripe's deliveries reach the public host

    def portal_status() -> str:
        return Tenant.objects.get(pk=tenant.pk).status

    assert portal_status() == "trial"

    # The owner chooses the Team plan; Kompas opens a Stripe Checkout page.
    response = owner.post("/settings/billing/plan/", {"plan": "team", "interval": "month", "currency": "PLN"})
    assert response.status_code == 302
    [session] = fake_stripe.checkout_sessions.values()
    assert response["Location"] == session["url"]
    assert session["client_reference_id"] == schema

    # The owner pays on Stripe's page; Stripe tells us in whatever order it likes.
    paid = fake_stripe.complete_checkout(session["id"])
    deliver(stripe, fake_stripe.event("customer.subscription.created", paid.subscription))
    deliver(stripe, fake_stripe.event("checkout.session.completed", paid.session))
    deliver(stripe, fake_stripe.event("invoice.paid", paid.invoice))
    assert portal_status() == "active"
    subscription = Subscription.objects.select_related("plan").get(tenant=tenant)
    assert (subscription.plan.code, subscription.status) == ("team", "active")

    # A month later the card is declined: past due, with a banner for the owner.
    failed = fake_stripe.renew(paid.subscription["id"], paid=False)
    deliver(stripe, fake_stripe.event("invoice.payment_failed", failed))
    assert portal_status() == "past_due"
    home = owner.get("/", HTTP_ACCEPT_LANGUAGE="pl")
    assert "Ostatnia płatność za ten portal nie powiodła się" in home.content.decode()
    assert owner.post("/").status_code != 423  # still fully usable during the grace period

    # The grace period passes without payment: read-only.
    past_due_since = Subscription.objects.get(tenant=tenant).past_due_since
    dunning.enforce_dunning(now=past_due_since + timedelta(days=dunning.DUNNING_GRACE_DAYS, hours=1))
    assert portal_status() == "suspended"
    assert owner.post("/").status_code == 423

    # The owner pays the open invoice: access is back at once.
    deliver(stripe, fake_stripe.event("invoice.paid", fake_stripe.pay_invoice(failed["id"])))
    assert portal_status() == "active"
    assert owner.post("/").status_code != 423
    assert sorted(Invoice.objects.filter(tenant=tenant).values_list("status", flat=True)) == ["paid", "paid"]
    assert portal_status_changes == [(schema, "trial", "active"), (schema, "active", "past_due"),
                                     (schema, "past_due", "suspended"), (schema, "suspended", "active")]
