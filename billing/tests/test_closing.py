"""Billing follows the portal lifecycle: closing stops renewal, reactivating renews, deleting ends it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from billing import closing
from billing.models import Subscription
from billing.tests.fake_stripe import fake_stripe_fixture, subscribe  # noqa: F401  (fixture)
from tenants import transitions
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def paying(portal_a, fake_stripe) -> str:
    """portal_a pays for its own plan through Stripe; the subscription's id."""
    return subscribe(fake_stripe, Client(), portal_a.tenant).subscription["id"]


def _stripe(fake_stripe, subscription_id: str) -> dict:
    return fake_stripe.snapshot("subscriptions", subscription_id)


def test_closing_stops_renewal_and_reactivating_renews(portal_a, fake_stripe, paying):
    transitions.cancel(portal_a.tenant, actor=portal_a.owner, reason="Przechodzimy na inny system")
    assert _stripe(fake_stripe, paying)["cancel_at_period_end"] is True
    assert _stripe(fake_stripe, paying)["status"] == "active"  # paid up to the period end
    assert Subscription.objects.get(tenant=portal_a.tenant).cancel_at_period_end
    transitions.reactivate(portal_a.tenant, actor=portal_a.owner, reason="Zostajemy")
    assert _stripe(fake_stripe, paying)["cancel_at_period_end"] is False
    assert not Subscription.objects.get(tenant=portal_a.tenant).cancel_at_period_end


def test_a_refusal_from_stripe_keeps_the_portal_open_with_the_reason(portal_a, fake_stripe, paying):
    fake_stripe.fail_next("POST", f"/v1/subscriptions/{paying}", status=400, error_type="invalid_request_error")
    with pytest.raises(ValidationError):
        transitions.cancel(portal_a.tenant, actor=portal_a.owner, reason="Koniec")
    assert Tenant.objects.get(pk=portal_a.tenant.pk).status != Tenant.Status.CLOSED
    assert _stripe(fake_stripe, paying)["cancel_at_period_end"] is False


def test_deleting_a_portal_ends_what_is_still_billed(portal_a, fake_stripe, paying):
    closing._follow_the_lifecycle(Tenant, tenant=portal_a.tenant, previous=Tenant.Status.DELETION_SCHEDULED,
                                  status="deleted")
    assert _stripe(fake_stripe, paying)["status"] == "canceled"


def test_a_portal_without_stripe_closes_without_calling_it(portal_b, fake_stripe):
    transitions.cancel(portal_b.tenant, actor=portal_b.owner, reason="Trial only")
    assert Tenant.objects.get(pk=portal_b.tenant.pk).status == Tenant.Status.CLOSED
    assert fake_stripe.requests_to("POST", "/v1/subscriptions") == []
