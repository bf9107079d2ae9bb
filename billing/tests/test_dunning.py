"""Dunning and trial expiry: a failed payment → past due with a banner → read-only after 7 days → paying restores."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing import dunning
from billing.models import Subscription
from billing.selectors import plan_and_seats
from billing.tests.fake_stripe import (
    deliver,
    fake_stripe_fixture,  # noqa: F401
    portal_status_changes_fixture,  # noqa: F401
    subscribe,
)
from identity.members.models import Membership
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

OVERDUE_BANNER_PL = "Ostatnia płatność za ten portal nie powiodła się"
READ_ONLY_BANNER_PL = "Ten portal działa w trybie tylko do odczytu"


@pytest.fixture
def stripe_client(portals) -> Client:
    return Client()


def _portal_status(portal) -> str:
    return Tenant.objects.get(pk=portal.tenant.pk).status


def _fail_renewal(fake_stripe, stripe_client, portal) -> dict:
    outcome = subscribe(fake_stripe, stripe_client, portal.tenant)
    failed = fake_stripe.renew(outcome.subscription["id"], paid=False)
    deliver(stripe_client, fake_stripe.event("invoice.payment_failed", failed))
    return failed


def test_a_portal_owing_for_less_than_the_grace_period_keeps_working(portal_a, stripe_client, fake_stripe):
    _fail_renewal(fake_stripe, stripe_client, portal_a)
    since = Subscription.objects.get(tenant=portal_a.tenant).past_due_since

    assert dunning.enforce_dunning(now=since + timedelta(days=dunning.DUNNING_GRACE_DAYS) - timedelta(minutes=1)) == []
    assert _portal_status(portal_a) == "past_due"
    assert portal_a.client(logged_in=True).post("/").status_code in (200, 302)


def test_after_the_grace_period_the_portal_is_read_only_until_it_pays(
        portal_a, stripe_client, fake_stripe, portal_status_changes):
    failed = _fail_renewal(fake_stripe, stripe_client, portal_a)
    since = Subscription.objects.get(tenant=portal_a.tenant).past_due_since
    owner = portal_a.client(logged_in=True)

    suspended = dunning.enforce_dunning(now=since + timedelta(days=dunning.DUNNING_GRACE_DAYS, minutes=1))
    assert [tenant.pk for tenant in suspended] == [portal_a.tenant.pk]
    assert dunning.enforce_dunning(now=since + timedelta(days=9)) == []  # once is enough
    assert _portal_status(portal_a) == "suspended"

    blocked = owner.post("/", HTTP_ACCEPT_LANGUAGE="pl")
    assert blocked.status_code == 423
    assert READ_ONLY_BANNER_PL in blocked.content.decode()
    assert owner.get("/").status_code == 200  # reading and exporting still work
    # Paying must stay possible: the billing page still opens Stripe's Customer Portal.
    to_stripe = owner.post("/settings/billing/payments/")
    assert to_stripe.status_code == 302 and to_stripe["Location"].startswith("https://billing.stripe.com/")

    deliver(stripe_client, fake_stripe.event("invoice.paid", fake_stripe.pay_invoice(failed["id"])))

    assert _portal_status(portal_a) == "active"
    assert Subscription.objects.get(tenant=portal_a.tenant).past_due_since is None
    assert owner.post("/").status_code in (200, 302)
    schema = portal_a.tenant.schema_name
    assert portal_status_changes == [(schema, "trial", "active"), (schema, "active", "past_due"),
                                     (schema, "past_due", "suspended"), (schema, "suspended", "active")]


def test_the_grace_period_counts_from_the_first_failure_not_the_latest_retry(portal_a, stripe_client, fake_stripe):
    failed = _fail_renewal(fake_stripe, stripe_client, portal_a)
    first = Subscription.objects.get(tenant=portal_a.tenant).past_due_since
    Subscription.objects.filter(tenant=portal_a.tenant).update(past_due_since=first - timedelta(days=8))
    # Stripe retried on day 5 and failed again; that must not restart the clock.
    deliver(stripe_client, fake_stripe.event("invoice.payment_failed", fake_stripe.snapshot("invoices", failed["id"])))

    assert [tenant.pk for tenant in dunning.enforce_dunning()] == [portal_a.tenant.pk]


def test_a_webhook_about_the_overdue_subscription_does_not_lift_the_suspension(portal_a, stripe_client, fake_stripe):
    failed = _fail_renewal(fake_stripe, stripe_client, portal_a)
    dunning.enforce_dunning(now=timezone.now() + timedelta(days=8))
    deliver(stripe_client, fake_stripe.event("invoice.payment_failed", fake_stripe.snapshot("invoices", failed["id"])))
    assert _portal_status(portal_a) == "suspended"


def test_a_payment_does_not_lift_a_suspension_that_was_not_for_non_payment(portal_a, stripe_client, fake_stripe):
    outcome = subscribe(fake_stripe, stripe_client, portal_a.tenant)
    Tenant.objects.filter(pk=portal_a.tenant.pk).update(status=Tenant.Status.SUSPENDED)  # e.g. by staff, for abuse
    renewal = fake_stripe.renew(outcome.subscription["id"], paid=True)
    deliver(stripe_client, fake_stripe.event("invoice.paid", renewal))
    assert _portal_status(portal_a) == "suspended"


def test_closed_and_already_suspended_portals_are_left_alone(portal_a, portal_b):
    long_ago = timezone.now() - timedelta(days=30)
    Subscription.objects.filter(tenant__in=[portal_a.tenant, portal_b.tenant]).update(
        status=Subscription.Status.PAST_DUE, past_due_since=long_ago)
    Tenant.objects.filter(pk=portal_a.tenant.pk).update(status=Tenant.Status.CLOSED)
    Tenant.objects.filter(pk=portal_b.tenant.pk).update(status=Tenant.Status.SUSPENDED)
    assert dunning.enforce_dunning() == []


def test_an_expired_trial_moves_to_the_free_plan_and_keeps_every_member(portal_a, portal_status_changes):
    Subscription.objects.filter(tenant=portal_a.tenant).update(trial_ends_at=timezone.now() - timedelta(minutes=5))
    with tenant_context(portal_a.tenant):
        members_before = Membership.objects.count()

    moved = dunning.end_expired_trials()

    assert [tenant.pk for tenant in moved] == [portal_a.tenant.pk]
    subscription = Subscription.objects.select_related("plan").get(tenant=portal_a.tenant)
    assert (subscription.status, subscription.plan.code, subscription.seats) == ("free", "free", None)
    assert plan_and_seats(portal_a.tenant)[0].code == "free"
    assert portal_status_changes == [(portal_a.tenant.schema_name, "trial", "active")]
    with tenant_context(portal_a.tenant):
        assert Membership.objects.count() == members_before
    assert dunning.end_expired_trials() == []


def test_a_running_trial_or_a_subscribed_portal_is_not_moved_to_free(portal_a, portal_b):
    Subscription.objects.filter(tenant=portal_a.tenant).update(trial_ends_at=timezone.now() + timedelta(days=3))
    Subscription.objects.filter(tenant=portal_b.tenant).update(trial_ends_at=timezone.now() - timedelta(days=1),
                                                               stripe_subscription_id="sub_1BetaCheckoutInFlight")
    assert dunning.end_expired_trials() == []
    assert set(Subscription.objects.filter(tenant__in=[portal_a.tenant, portal_b.tenant])
               .values_list("status", flat=True)) == {"trialing"}
