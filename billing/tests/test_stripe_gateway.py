"""Outbound calls to Stripe, checked at the HTTP boundary: what we send, what we store, how errors read."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from django.utils import translation

from billing import stripe_gateway
from billing.models import Plan, PlanPrice, Subscription
from billing.services import save_billing_details
from billing.tests.fake_stripe import (
    API_KEY,
    API_VERSION,
    deliver,
    fake_stripe_fixture,  # noqa: F401
    start_checkout,
    subscribe,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_client(portals) -> Client:
    return Client()


def _price(plan_code: str, interval: str = "month", currency: str = "PLN") -> PlanPrice:
    return PlanPrice.objects.select_related("plan").get(plan__code=plan_code, interval=interval, currency=currency)


def _subscription(portal) -> Subscription:
    return Subscription.objects.select_related("plan").get(tenant=portal.tenant)


def test_the_customer_is_created_once_with_the_portal_and_its_billing_details(portal_a, fake_stripe):
    save_billing_details(tenant=portal_a.tenant, company_name="Alfa Handel Sp. z o.o.", nip="5260001246",
                         vat_id="", street="ul. Długa 5", postal_code="00-238", city="Warszawa", country="PL",
                         email="faktury@alfa-handel.pl")

    customer_id = stripe_gateway.ensure_customer(tenant=portal_a.tenant)
    assert stripe_gateway.ensure_customer(tenant=portal_a.tenant) == customer_id

    [request] = fake_stripe.requests_to("POST", "/v1/customers")
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Stripe-Version"] == API_VERSION
    assert request.params["name"] == "Alfa Handel Sp. z o.o."
    assert request.params["email"] == "faktury@alfa-handel.pl"
    assert request.params["address"] == {"line1": "ul. Długa 5", "postal_code": "00-238", "city": "Warszawa",
                                         "country": "PL"}
    assert request.params["tax_id_data"] == [{"type": "eu_vat", "value": "PL5260001246"}]
    assert request.params["metadata"] == {"tenant_schema": portal_a.tenant.schema_name, "tenant_slug": "alfa",
                                          "nip": "5260001246"}
    assert request.params["preferred_locales"] == ["pl"]
    assert _subscription(portal_a).stripe_customer_id == customer_id


def test_a_stripe_product_and_price_are_created_lazily_once_and_remembered(portal_a, fake_stripe):
    monthly, yearly = _price("team"), _price("team", "year")

    price_id = stripe_gateway.ensure_stripe_price(monthly)
    assert stripe_gateway.ensure_stripe_price(PlanPrice.objects.get(pk=monthly.pk)) == price_id
    stripe_gateway.ensure_stripe_price(yearly)

    [product_request] = fake_stripe.requests_to("POST", "/v1/products")
    assert product_request.params == {"name": "Kompas Zespół / Team", "metadata": {"plan_code": "team"}}
    monthly_request, yearly_request = fake_stripe.requests_to("POST", "/v1/prices")
    assert monthly_request.params["unit_amount"] == "29900"  # 299,00 zł net, in grosze
    assert monthly_request.params["currency"] == "pln"
    assert monthly_request.params["recurring"] == {"interval": "month"}
    assert monthly_request.params["tax_behavior"] == "exclusive"
    assert yearly_request.params["unit_amount"] == "299000"
    assert yearly_request.params["product"] == monthly_request.params["product"]
    assert PlanPrice.objects.get(pk=monthly.pk).stripe_price_id == price_id
    [product] = fake_stripe.products.values()
    assert Plan.objects.get(code="team").stripe_product_id == product["id"]


def test_checkout_for_a_per_seat_plan_charges_the_seats(portal_a, fake_stripe):
    session = start_checkout(fake_stripe, portal_a.tenant, plan_code="per-seat", seats=12)
    [request] = fake_stripe.requests_to("POST", "/v1/checkout/sessions")
    assert request.params["mode"] == "subscription"
    assert request.params["client_reference_id"] == portal_a.tenant.schema_name
    assert request.params["customer"] == _subscription(portal_a).stripe_customer_id
    assert request.params["line_items"] == [{"price": _price("per-seat").stripe_price_id, "quantity": "12"}]
    assert request.params["metadata"] == {"tenant_schema": portal_a.tenant.schema_name, "plan_code": "per-seat"}
    assert request.params["subscription_data"]["metadata"]["tenant_schema"] == portal_a.tenant.schema_name
    assert session["amount_total"] == 12 * 3900


def test_checkout_for_a_flat_plan_is_one_unit_whatever_the_seats(portal_a, fake_stripe):
    start_checkout(fake_stripe, portal_a.tenant, plan_code="business", seats=40, currency="EUR")
    [request] = fake_stripe.requests_to("POST", "/v1/checkout/sessions")
    assert request.params["line_items"][0]["quantity"] == "1"
    assert fake_stripe.prices[request.params["line_items"][0]["price"]]["currency"] == "eur"


def test_the_choose_plan_button_sends_a_trial_portal_to_stripe_checkout(portal_a, fake_stripe):
    response = portal_a.client(logged_in=True).post(
        "/settings/billing/plan/", {"plan": "team", "interval": "year", "currency": "PLN"})
    assert response.status_code == 302
    assert response["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    [request] = fake_stripe.requests_to("POST", "/v1/checkout/sessions")
    assert request.params["success_url"].startswith("http://alfa.kompas.test/settings/billing/")


def test_the_customer_portal_session_opens_for_the_portals_own_customer(portal_a, fake_stripe):
    url = stripe_gateway.create_portal_session(tenant=portal_a.tenant,
                                               return_url="https://alfa.kompas.test/settings/billing/")
    assert url.startswith("https://billing.stripe.com/p/session/test_")
    [request] = fake_stripe.requests_to("POST", "/v1/billing_portal/sessions")
    assert request.params == {"customer": _subscription(portal_a).stripe_customer_id,
                              "return_url": "https://alfa.kompas.test/settings/billing/", "locale": "pl"}


def test_an_upgrade_is_prorated_and_applied_when_stripe_confirms_it(portal_a, stripe_client, fake_stripe):
    outcome = subscribe(fake_stripe, stripe_client, portal_a.tenant, plan_code="team")

    stripe_gateway.change_subscription(subscription=_subscription(portal_a), price=_price("business"), seats=None,
                                       prorate=True)

    [request] = fake_stripe.requests_to("POST", f"/v1/subscriptions/{outcome.subscription['id']}")
    assert request.params["proration_behavior"] == "create_prorations"
    assert request.params["items"] == [{"id": outcome.subscription["items"]["data"][0]["id"],
                                        "price": _price("business").stripe_price_id, "quantity": "1"}]
    assert _subscription(portal_a).plan.code == "team"  # not before Stripe confirms
    deliver(stripe_client, fake_stripe.event("customer.subscription.updated",
                                             fake_stripe.snapshot("subscriptions", outcome.subscription["id"])))
    assert _subscription(portal_a).plan.code == "business"


def test_a_downgrade_is_not_prorated(portal_a, stripe_client, fake_stripe):
    outcome = subscribe(fake_stripe, stripe_client, portal_a.tenant, plan_code="business")

    stripe_gateway.change_subscription(subscription=_subscription(portal_a), price=_price("start"), seats=None,
                                       prorate=False)

    [request] = fake_stripe.requests_to("POST", f"/v1/subscriptions/{outcome.subscription['id']}")
    assert request.params["proration_behavior"] == "none"
    deliver(stripe_client, fake_stripe.event("customer.subscription.updated",
                                             fake_stripe.snapshot("subscriptions", outcome.subscription["id"])))
    subscription = _subscription(portal_a)
    assert (subscription.plan.code, subscription.status) == ("start", "active")


def test_buying_more_seats_changes_the_quantity(portal_a, stripe_client, fake_stripe):
    outcome = subscribe(fake_stripe, stripe_client, portal_a.tenant, plan_code="per-seat", seats=5)
    stripe_gateway.change_subscription(subscription=_subscription(portal_a), price=_price("per-seat"), seats=8,
                                       prorate=True)
    [request] = fake_stripe.requests_to("POST", f"/v1/subscriptions/{outcome.subscription['id']}")
    assert request.params["items"][0]["quantity"] == "8"
    deliver(stripe_client, fake_stripe.event("customer.subscription.updated",
                                             fake_stripe.snapshot("subscriptions", outcome.subscription["id"])))
    assert _subscription(portal_a).seats == 8


def test_a_per_seat_plan_without_seats_is_refused_before_calling_stripe(portal_a, fake_stripe):
    with translation.override("en"), pytest.raises(stripe_gateway.PaymentProviderError) as refused:
        stripe_gateway.create_checkout_session(tenant=portal_a.tenant, price=_price("per-seat"), seats=None,
                                               success_url="https://alfa.kompas.test/ok",
                                               cancel_url="https://alfa.kompas.test/")
    assert "how many users" in str(refused.value)
    assert fake_stripe.requests == []


def test_a_stripe_error_becomes_a_translated_message_without_stripes_wording(portal_a, fake_stripe):
    fake_stripe.fail_next("POST", "/v1/customers", status=402, error_type="card_error",
                          message="Your card was declined. Request req_8Hq2 for cus_Secret.", code="card_declined")
    with translation.override("en"), pytest.raises(stripe_gateway.PaymentProviderError) as refused:
        stripe_gateway.ensure_customer(tenant=portal_a.tenant)
    message = str(refused.value)
    assert message == "The payment card was declined. Please use another card or contact your bank."
    assert "req_" not in message and "cus_" not in message
    assert refused.value.code == "card_declined"
    assert _subscription(portal_a).stripe_customer_id == ""


@pytest.mark.parametrize(("status", "error_type", "expected"), [
    (401, "invalid_request_error", "temporarily unavailable"),
    (429, "invalid_request_error", "cannot be reached right now"),
    (400, "invalid_request_error", "could not complete the request"),
])
def test_every_kind_of_stripe_error_reads_as_a_clear_sentence(portal_a, fake_stripe, status, error_type, expected):
    fake_stripe.fail_next("POST", "/v1/customers", status=status, error_type=error_type,
                          message="Something technical happened", code=None)
    with translation.override("en"), pytest.raises(stripe_gateway.PaymentProviderError) as refused:
        stripe_gateway.ensure_customer(tenant=portal_a.tenant)
    assert expected in str(refused.value)
    assert "technical" not in str(refused.value)


def test_without_a_stripe_key_payments_say_they_are_not_configured(portal_a, fake_stripe):
    with override_settings(STRIPE_SECRET_KEY=""), translation.override("en"), \
            pytest.raises(stripe_gateway.PaymentProviderError) as refused:
        stripe_gateway.create_portal_session(tenant=portal_a.tenant, return_url="https://alfa.kompas.test/")
    assert refused.value.code == "not_configured"
    assert "not configured" in str(refused.value)
    assert fake_stripe.requests == []
