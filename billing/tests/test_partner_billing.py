"""Partner-paid mode: one Stripe subscription of the partner, one item per client portal, one shared status."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.utils import timezone, translation
from django_tenants.utils import tenant_context

from billing import dunning, limits, partner_billing, stripe_gateway, stripe_sync
from billing.models import BillingDrift, Invoice, PartnerBillingAccount, PlanPrice, Subscription
from billing.selectors import clients_paid_by, plan_and_seats
from billing.tests.fake_stripe import (
    deliver,
    fake_stripe_fixture,  # noqa: F401
    portal_status_changes_fixture,  # noqa: F401
    subscribe,
)
from identity.members.models import Membership
from kompas.testing.fixtures import PASSWORD
from tenants.models import Partner, Tenant
from tenants.services import create_partner, link_client_portal, unlink_client_portal

pytestmark = pytest.mark.django_db

OVERDUE_BANNER_PL = "Ostatnia płatność za ten portal nie powiodła się"


@pytest.fixture
def stripe_client(portals) -> Client:
    return Client()


@pytest.fixture
def wektor(portal_a, portal_b) -> Partner:
    """Agency Wektor manages portals A and B for their owners."""
    partner = create_partner(name="Agencja Wektor", slug="agencja-wektor", email="rozliczenia@wektor.pl")
    link_client_portal(partner=partner, tenant=portal_a.tenant)
    link_client_portal(partner=partner, tenant=portal_b.tenant)
    return partner


def _new_portal(slug: str, name: str) -> Tenant:
    from kompas.provisioning import create_portal

    return create_portal(name=name, slug=slug, owner_email=f"wlasciciel@{slug}.pl", owner_password=PASSWORD).tenant


def _price(plan_code: str, *, interval: str = "month", currency: str = "PLN") -> PlanPrice:
    return PlanPrice.objects.select_related("plan").get(plan__code=plan_code, interval=interval, currency=currency)


def _subscription(tenant) -> Subscription:
    return Subscription.objects.select_related("plan").get(tenant_id=tenant.pk)


def _status(tenant) -> str:
    return Tenant.objects.get(pk=tenant.pk).status


def _account(partner) -> PartnerBillingAccount:
    return PartnerBillingAccount.objects.get(partner=partner)


def _start_partner_subscription(fake, client, partner, tenant, *, plan_code: str = "team", seats: int | None = None):
    """The partner's first client: Checkout, paid, and Stripe's webhooks delivered."""
    url = partner_billing.put_client_on_partner_billing(partner=partner, tenant=tenant, price=_price(plan_code),
                                                       seats=seats)
    assert url.startswith("https://checkout.stripe.com/")
    outcome = fake.complete_checkout(url.split("/pay/", 1)[1].split("#", 1)[0])
    deliver(client, fake.event("checkout.session.completed", outcome.session))
    deliver(client, fake.event("customer.subscription.created", outcome.subscription))
    deliver(client, fake.event("invoice.paid", outcome.invoice))
    return outcome


def _pay_for_a_and_b(fake, client, wektor, portal_a, portal_b):
    """Wektor pays for A on the team plan and for B on the per-user plan with 5 seats."""
    outcome = _start_partner_subscription(fake, client, wektor, portal_a.tenant, plan_code="team")
    assert partner_billing.put_client_on_partner_billing(
        partner=wektor, tenant=portal_b.tenant, price=_price("per-seat"), seats=5) is None
    return outcome


def _item_of(fake, subscription_id: str, tenant) -> dict:
    [item] = [item for item in fake.items_of(subscription_id) if item["metadata"].get("tenant_schema")
              == tenant.schema_name]
    return item


# --- One subscription, one item per client ---------------------------------------------------------

def test_a_partner_pays_for_two_client_portals_on_one_stripe_subscription(
        wektor, portal_a, portal_b, stripe_client, fake_stripe, portal_status_changes):
    outcome = _pay_for_a_and_b(fake_stripe, stripe_client, wektor, portal_a, portal_b)

    [stripe_subscription] = fake_stripe.subscriptions.values()
    items = fake_stripe.items_of(stripe_subscription["id"])
    assert [(item["metadata"]["tenant_schema"], item["price"]["metadata"]["plan_code"], item["quantity"])
            for item in items] == [(portal_a.tenant.schema_name, "team", 1), (portal_b.tenant.schema_name,
                                                                              "per-seat", 5)]
    # The partner is the Stripe customer; the portals are not.
    [customer] = fake_stripe.customers.values()
    assert (customer["name"], customer["email"]) == ("Agencja Wektor", "rozliczenia@wektor.pl")
    assert stripe_subscription["customer"] == customer["id"]

    account = _account(wektor)
    assert (account.stripe_customer_id, account.stripe_subscription_id, account.status, account.currency,
            account.interval) == (customer["id"], outcome.subscription["id"], "active", "PLN", "month")
    a, b = _subscription(portal_a.tenant), _subscription(portal_b.tenant)
    assert (a.partner_account_id, a.plan.code, a.seats, a.status) == (account.pk, "team", None, "active")
    assert (b.partner_account_id, b.plan.code, b.seats, b.status) == (account.pk, "per-seat", 5, "active")
    assert (a.stripe_subscription_item_id, b.stripe_subscription_item_id) == (items[0]["id"], items[1]["id"])
    assert a.stripe_subscription_id == b.stripe_subscription_id == ""  # neither pays for itself
    assert set(clients_paid_by(wektor)) == {a, b}
    assert sorted(portal_status_changes) == sorted([(portal_a.tenant.schema_name, "trial", "active"),
                                                    (portal_b.tenant.schema_name, "trial", "active")])
    # The invoice is the partner's, not a portal's.
    invoice = Invoice.objects.get(stripe_invoice_id=outcome.invoice["id"])
    assert (invoice.partner_account_id, invoice.tenant_id, invoice.amount_paid) == (account.pk, None, 29900)


def test_each_client_gets_its_own_plans_limits(wektor, portal_a, portal_b, stripe_client, fake_stripe):
    _pay_for_a_and_b(fake_stripe, stripe_client, wektor, portal_a, portal_b)

    assert plan_and_seats(portal_a.tenant)[0].code == "team"
    assert limits.limit_of(portal_a.tenant, "seats") == 12
    assert limits.limit_of(portal_a.tenant, "pipelines") == 10
    assert limits.has_feature(portal_a.tenant, "api_access")
    assert limits.limit_of(portal_b.tenant, "seats") == 5  # the seats bought for B, not A's plan
    assert limits.limit_of(portal_b.tenant, "pipelines") == 30  # the per-user plan's, not A's 10


def test_the_first_item_is_labelled_with_its_portal_even_when_checkout_does_not_carry_the_metadata(
        wektor, portal_a, stripe_client, fake_stripe):
    outcome = _start_partner_subscription(fake_stripe, stripe_client, wektor, portal_a.tenant)

    [checkout] = fake_stripe.requests_to("POST", "/v1/checkout/sessions")
    assert checkout.params["line_items"][0]["metadata"] == {"tenant_schema": portal_a.tenant.schema_name}
    assert checkout.params["subscription_data"]["metadata"]["first_client_schema"] == portal_a.tenant.schema_name
    assert "tenant_schema" not in checkout.params["subscription_data"]["metadata"]
    first_item = outcome.subscription["items"]["data"][0]
    assert first_item["metadata"] == {}  # as the fake's Checkout created it
    assert fake_stripe.items_of(outcome.subscription["id"])[0]["metadata"] == {
        "tenant_schema": portal_a.tenant.schema_name}
    labelled = fake_stripe.requests_to("POST", f"/v1/subscription_items/{first_item['id']}")
    assert [request.params for request in labelled] == [{"metadata": {"tenant_schema": portal_a.tenant.schema_name}}]


def test_adding_a_third_client_adds_a_prorated_item_to_the_same_subscription(
        wektor, portal_a, portal_b, stripe_client, fake_stripe, portal_status_changes):
    outcome = _pay_for_a_and_b(fake_stripe, stripe_client, wektor, portal_a, portal_b)
    gamma = _new_portal("gamma", "Gamma Usługi")
    link_client_portal(partner=wektor, tenant=gamma)

    assert partner_billing.put_client_on_partner_billing(partner=wektor, tenant=gamma,
                                                        price=_price("business")) is None

    assert len(fake_stripe.subscriptions) == 1
    assert len(fake_stripe.items_of(outcome.subscription["id"])) == 3
    added = fake_stripe.requests_to("POST", "/v1/subscription_items")
    gamma_request = [request for request in added if request.path == "/v1/subscription_items"][-1]
    assert gamma_request.params == {
        "subscription": outcome.subscription["id"], "price": _price("business").stripe_price_id, "quantity": "1",
        "metadata": {"tenant_schema": gamma.schema_name}, "proration_behavior": "create_prorations"}
    assert (_subscription(gamma).plan.code, _subscription(gamma).partner_account_id) == ("business",
                                                                                         _account(wektor).pk)
    assert _status(gamma) == "active"

    # Stripe's own notice of the change arrives later and finds nothing left to do.
    changes_before = list(portal_status_changes)
    deliver(stripe_client, fake_stripe.event("customer.subscription.updated",
                                             fake_stripe.snapshot("subscriptions", outcome.subscription["id"])))
    assert portal_status_changes == changes_before
    assert _subscription(gamma).plan.code == "business"


def test_changing_a_clients_plan_updates_only_its_item(wektor, portal_a, portal_b, stripe_client, fake_stripe):
    outcome = _pay_for_a_and_b(fake_stripe, stripe_client, wektor, portal_a, portal_b)
    b_item = _item_of(fake_stripe, outcome.subscription["id"], portal_b.tenant)

    partner_billing.change_client_plan(tenant=portal_b.tenant, price=_price("per-seat"), seats=8)

    [change] = fake_stripe.requests_to("POST", f"/v1/subscription_items/{b_item['id']}")
    assert change.params == {"price": _price("per-seat").stripe_price_id, "quantity": "8",
                             "proration_behavior": "create_prorations"}
    assert _subscription(portal_b.tenant).seats == 8
    assert limits.limit_of(portal_b.tenant, "seats") == 8
    assert (_subscription(portal_a.tenant).plan.code, _subscription(portal_a.tenant).seats) == ("team", None)


def test_fewer_seats_than_active_users_are_refused_before_stripe_is_asked(wektor, portal_b, fake_stripe):
    with translation.override("en"), pytest.raises(ValidationError) as error:
        partner_billing.put_client_on_partner_billing(partner=wektor, tenant=portal_b.tenant,
                                                      price=_price("per-seat"), seats=None)
    assert "how many users" in error.value.message_dict["seats"][0]
    assert fake_stripe.requests == []


def test_a_price_in_another_currency_or_interval_is_refused_naming_the_terms(
        wektor, portal_a, portal_b, stripe_client, fake_stripe):
    _start_partner_subscription(fake_stripe, stripe_client, wektor, portal_a.tenant)
    with translation.override("en"), pytest.raises(ValidationError) as error:
        partner_billing.put_client_on_partner_billing(partner=wektor, tenant=portal_b.tenant,
                                                      price=_price("team", currency="EUR"))
    assert error.value.message_dict["price"] == [
        "The partner's subscription is billed monthly in PLN; choose a price with the same currency and "
        "billing interval."]
    assert [request.path for request in fake_stripe.requests_to("POST", "/v1/subscription_items")
            if request.path == "/v1/subscription_items"] == []


# --- Moving a client off -----------------------------------------------------------------------

def test_moving_a_client_off_removes_its_item_and_keeps_its_data(
        wektor, portal_a, portal_b, stripe_client, fake_stripe):
    outcome = _pay_for_a_and_b(fake_stripe, stripe_client, wektor, portal_a, portal_b)
    b_item = _item_of(fake_stripe, outcome.subscription["id"], portal_b.tenant)
    with tenant_context(portal_b.tenant):
        members_before = list(Membership.objects.values_list("pk", flat=True))

    subscription = partner_billing.move_client_off_partner_billing(tenant=portal_b.tenant)

    [removal] = fake_stripe.requests_to("DELETE", "/v1/subscription_items/")
    assert (removal.path, removal.params) == (f"/v1/subscription_items/{b_item['id']}",
                                              {"proration_behavior": "create_prorations"})
    assert [item["metadata"]["tenant_schema"] for item in fake_stripe.items_of(outcome.subscription["id"])] == [
        portal_a.tenant.schema_name]
    assert (subscription.partner_account_id, subscription.stripe_subscription_item_id, subscription.status,
            subscription.plan.code, subscription.seats) == (None, "", "free", "free", None)
    assert _status(portal_b.tenant) == "active"
    with tenant_context(portal_b.tenant):
        assert list(Membership.objects.values_list("pk", flat=True)) == members_before
    assert Tenant.objects.get(pk=portal_b.tenant.pk).partner_id == wektor.pk  # still its client, not paid for
    a = _subscription(portal_a.tenant)
    assert (a.partner_account_id, a.status, a.plan.code) == (_account(wektor).pk, "active", "team")

    # A late notice of the subscription as it was (B still on it) does not bring B back.
    deliver(stripe_client, fake_stripe.event("customer.subscription.updated", outcome.subscription))
    assert _subscription(portal_b.tenant).partner_account_id is None


def test_moving_the_last_client_off_ends_the_partners_subscription_and_the_next_client_starts_a_new_one(
        wektor, portal_a, portal_b, stripe_client, fake_stripe):
    outcome = _start_partner_subscription(fake_stripe, stripe_client, wektor, portal_a.tenant)

    partner_billing.move_client_off_partner_billing(tenant=portal_a.tenant)

    [cancel] = fake_stripe.requests_to("DELETE", "/v1/subscriptions/")
    assert (cancel.path, cancel.params) == (f"/v1/subscriptions/{outcome.subscription['id']}", {"prorate": "true"})
    assert fake_stripe.subscriptions[outcome.subscription["id"]]["status"] == "canceled"
    assert _account(wektor).status == "canceled"
    assert _subscription(portal_a.tenant).status == "free"
    url = partner_billing.put_client_on_partner_billing(partner=wektor, tenant=portal_b.tenant, price=_price("team"))
    assert url.startswith("https://checkout.stripe.com/")


def test_unlinking_a_partner_paid_portal_moves_it_off_the_partners_bill_first(
        wektor, portal_a, portal_b, stripe_client, fake_stripe):
    outcome = _pay_for_a_and_b(fake_stripe, stripe_client, wektor, portal_a, portal_b)

    unlink_client_portal(tenant=portal_b.tenant)

    assert Tenant.objects.get(pk=portal_b.tenant.pk).partner_id is None
    assert len(fake_stripe.items_of(outcome.subscription["id"])) == 1
    assert _subscription(portal_b.tenant).partner_account_id is None


def test_when_stripe_refuses_the_removal_the_portal_stays_linked_and_paid_for(
        wektor, portal_a, portal_b, stripe_client, fake_stripe):
    _pay_for_a_and_b(fake_stripe, stripe_client, wektor, portal_a, portal_b)
    fake_stripe.fail_next("DELETE", "/v1/subscription_items/", status=503, error_type="api_error",
                          message="Stripe is down", code=None)

    with translation.override("en"), pytest.raises(stripe_gateway.PaymentProviderError) as error:
        unlink_client_portal(tenant=portal_b.tenant)

    assert "could not complete the request" in str(error.value)
    assert Tenant.objects.get(pk=portal_b.tenant.pk).partner_id == wektor.pk
    assert _subscription(portal_b.tenant).partner_account_id == _account(wektor).pk


def test_a_trial_on_the_partners_subscription_is_not_ended_by_our_trial_job(
        wektor, portal_a, stripe_client, fake_stripe):
    outcome = _start_partner_subscription(fake_stripe, stripe_client, wektor, portal_a.tenant)
    deliver(stripe_client, fake_stripe.event("customer.subscription.updated", fake_stripe.set_subscription_status(
        outcome.subscription["id"], "trialing")))
    Subscription.objects.filter(tenant=portal_a.tenant).update(trial_ends_at=timezone.now() - timedelta(days=1))
    assert _subscription(portal_a.tenant).status == "trialing"

    assert dunning.end_expired_trials() == []
    assert (_subscription(portal_a.tenant).plan.code, _subscription(portal_a.tenant).status) == ("team", "trialing")


def test_a_portal_that_is_not_paid_for_by_a_partner_cannot_be_moved_off(portal_a, fake_stripe):
    with translation.override("en"), pytest.raises(ValidationError) as error:
        partner_billing.move_client_off_partner_billing(tenant=portal_a.tenant)
    assert error.value.message_dict["tenant"] == ["Alfa Handel Sp. z o.o. is not paid for by a partner."]


def test_when_the_partners_subscription_ends_every_client_falls_back_to_the_free_plan(
        wektor, portal_a, portal_b, stripe_client, fake_stripe):
    outcome = _pay_for_a_and_b(fake_stripe, stripe_client, wektor, portal_a, portal_b)

    deliver(stripe_client, fake_stripe.event("customer.subscription.deleted",
                                             fake_stripe.cancel_subscription(outcome.subscription["id"])))

    for portal in (portal_a, portal_b):
        subscription = _subscription(portal.tenant)
        assert (subscription.partner_account_id, subscription.status, subscription.plan.code) == (None, "free", "free")
        assert _status(portal.tenant) == "active"  # nothing locked or deleted
    assert _account(wektor).status == "canceled"


# --- Dunning: one status for every client ----------------------------------------------------------

def test_a_failed_partner_payment_makes_all_clients_overdue_then_read_only_and_one_payment_restores_all(
        wektor, portal_a, portal_b, stripe_client, fake_stripe, portal_status_changes):
    outcome = _pay_for_a_and_b(fake_stripe, stripe_client, wektor, portal_a, portal_b)
    failed = fake_stripe.renew(outcome.subscription["id"], paid=False)
    assert failed["amount_due"] == 29900 + 5 * 3900  # one invoice for both portals

    deliver(stripe_client, fake_stripe.event("invoice.payment_failed", failed))

    account = _account(wektor)
    assert (account.status, account.past_due_since is not None) == ("past_due", True)
    for portal in (portal_a, portal_b):
        assert _status(portal.tenant) == "past_due"
        assert _subscription(portal.tenant).past_due_since == account.past_due_since  # one grace period
    banner = portal_b.client(logged_in=True).get("/", HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert OVERDUE_BANNER_PL in banner
    connection.set_schema_to_public()  # the request left this thread's connection on portal B

    grace_ends = account.past_due_since + timedelta(days=dunning.DUNNING_GRACE_DAYS)
    assert dunning.enforce_dunning(now=grace_ends - timedelta(minutes=1)) == []
    suspended = dunning.enforce_dunning(now=grace_ends + timedelta(minutes=1))
    assert {tenant.pk for tenant in suspended} == {portal_a.tenant.pk, portal_b.tenant.pk}
    assert portal_a.client(logged_in=True).post("/").status_code == 423

    deliver(stripe_client, fake_stripe.event("invoice.paid", fake_stripe.pay_invoice(failed["id"])))

    for portal in (portal_a, portal_b):
        assert _status(portal.tenant) == "active"
        assert _subscription(portal.tenant).past_due_since is None
    assert _account(wektor).past_due_since is None
    assert portal_a.client(logged_in=True).post("/").status_code in (200, 302)
    for portal in (portal_a, portal_b):
        schema = portal.tenant.schema_name
        assert [change for change in portal_status_changes if change[0] == schema] == [
            (schema, "trial", "active"), (schema, "active", "past_due"), (schema, "past_due", "suspended"),
            (schema, "suspended", "active")]


def test_no_new_client_joins_a_subscription_that_is_overdue(wektor, portal_a, portal_b, stripe_client, fake_stripe):
    outcome = _start_partner_subscription(fake_stripe, stripe_client, wektor, portal_a.tenant)
    deliver(stripe_client, fake_stripe.event("invoice.payment_failed",
                                             fake_stripe.renew(outcome.subscription["id"], paid=False)))
    with translation.override("en"), pytest.raises(ValidationError) as error:
        partner_billing.put_client_on_partner_billing(partner=wektor, tenant=portal_b.tenant, price=_price("team"))
    assert "has an unpaid invoice" in error.value.messages[0]
    assert len(fake_stripe.items_of(outcome.subscription["id"])) == 1


# --- Who may be put on a partner's bill ----------------------------------------------------------

def test_a_portal_not_linked_to_the_partner_cannot_be_put_on_its_billing(portal_a, portal_b, fake_stripe):
    wektor = create_partner(name="Agencja Wektor", slug="agencja-wektor", email="rozliczenia@wektor.pl")
    orbita = create_partner(name="Studio Orbita", slug="studio-orbita", email="biuro@orbita.pl")
    link_client_portal(partner=orbita, tenant=portal_b.tenant)

    for portal in (portal_a, portal_b):  # unlinked, and a client of another partner
        with translation.override("en"), pytest.raises(ValidationError) as error:
            partner_billing.put_client_on_partner_billing(partner=wektor, tenant=portal.tenant,
                                                          price=_price("team"))
        assert error.value.message_dict["tenant"] == [
            f"{portal.tenant.name} is not a client portal of Agencja Wektor, so Agencja Wektor cannot pay for "
            "it. Link the portal to the partner first."]
    assert fake_stripe.requests == []
    assert not PartnerBillingAccount.objects.exists()


def test_a_portal_paying_for_itself_cannot_move_to_a_partners_bill(wektor, portal_a, stripe_client, fake_stripe):
    subscribe(fake_stripe, stripe_client, portal_a.tenant, plan_code="team")
    requests_before = len(fake_stripe.requests)
    with translation.override("en"), pytest.raises(ValidationError) as error:
        partner_billing.put_client_on_partner_billing(partner=wektor, tenant=portal_a.tenant, price=_price("team"))
    assert error.value.message_dict["tenant"] == [
        "Alfa Handel Sp. z o.o. still pays for its own subscription. It can move to the partner's billing once "
        "that subscription has ended."]
    assert len(fake_stripe.requests) == requests_before  # Stripe was not asked for anything
    assert _subscription(portal_a.tenant).partner_account_id is None


def test_a_partner_paid_portal_cannot_buy_its_own_plan_from_its_billing_page(
        wektor, portal_a, stripe_client, fake_stripe):
    _start_partner_subscription(fake_stripe, stripe_client, wektor, portal_a.tenant)
    owner = portal_a.client(logged_in=True)
    checkouts_before = len(fake_stripe.requests_to("POST", "/v1/checkout/sessions"))

    page = owner.get("/settings/billing/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "This portal is paid for by Agencja Wektor, who also manages its plan and payments." in page
    response = owner.post("/settings/billing/plan/", {"plan": "business", "interval": "month", "currency": "PLN"},
                          HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert "Agencja Wektor pays for this portal: please ask them to change its plan." in response.content.decode()
    payments = owner.post("/settings/billing/payments/", HTTP_ACCEPT_LANGUAGE="en")
    assert payments.status_code == 302 and payments["Location"] == "/settings/billing/"
    assert len(fake_stripe.requests_to("POST", "/v1/checkout/sessions")) == checkouts_before
    assert not fake_stripe.requests_to("POST", "/v1/billing_portal/sessions")


# --- Webhooks: order, duplicates, isolation ----------------------------------------------------------

def test_partner_events_delivered_twice_and_in_reverse_order_apply_each_effect_once(
        wektor, portal_a, portal_b, stripe_client, fake_stripe, portal_status_changes):
    url = partner_billing.put_client_on_partner_billing(partner=wektor, tenant=portal_a.tenant, price=_price("team"))
    outcome = fake_stripe.complete_checkout(url.split("/pay/", 1)[1].split("#", 1)[0])
    sub_id = outcome.subscription["id"]
    completed = fake_stripe.event("checkout.session.completed", outcome.session)
    deliver(stripe_client, completed)
    partner_billing.put_client_on_partner_billing(partner=wektor, tenant=portal_b.tenant, price=_price("start"))
    failed = fake_stripe.renew(sub_id, paid=False)
    history = [
        completed,
        fake_stripe.event("customer.subscription.created", outcome.subscription),
        fake_stripe.event("invoice.paid", outcome.invoice),
        fake_stripe.event("customer.subscription.updated", fake_stripe.snapshot("subscriptions", sub_id)),
        fake_stripe.event("invoice.payment_failed", failed),
        fake_stripe.event("customer.subscription.updated", fake_stripe.snapshot("subscriptions", sub_id)),
    ]
    paid = fake_stripe.pay_invoice(failed["id"])
    history += [fake_stripe.event("invoice.paid", paid),
                fake_stripe.event("customer.subscription.updated", fake_stripe.snapshot("subscriptions", sub_id))]

    outcomes = [deliver(stripe_client, event) for event in reversed(history)]
    outcomes += [deliver(stripe_client, event) for event in history]

    assert outcomes.count(stripe_sync.Outcome.PROCESSED) == len(history) - 1  # `completed` was delivered before
    a, b = _subscription(portal_a.tenant), _subscription(portal_b.tenant)
    assert (a.status, a.plan.code, a.past_due_since) == ("active", "team", None)
    assert (b.status, b.plan.code, b.past_due_since) == ("active", "start", None)
    # Stripe's current state was paid every time it was asked, so no portal ever owed anything.
    assert sorted(portal_status_changes) == sorted([(portal_a.tenant.schema_name, "trial", "active"),
                                                    (portal_b.tenant.schema_name, "trial", "active")])
    assert Invoice.objects.filter(partner_account=_account(wektor)).count() == 2


def test_a_partners_events_never_touch_another_partners_or_an_unlinked_portal(
        wektor, portal_a, portal_b, stripe_client, fake_stripe, portal_status_changes):
    unlink_client_portal(tenant=portal_b.tenant)
    orbita = create_partner(name="Studio Orbita", slug="studio-orbita", email="biuro@orbita.pl")
    link_client_portal(partner=orbita, tenant=portal_b.tenant)
    gamma = _new_portal("gamma", "Gamma Usługi")  # nobody's client
    wektor_sub = _start_partner_subscription(fake_stripe, stripe_client, wektor, portal_a.tenant).subscription
    _start_partner_subscription(fake_stripe, stripe_client, orbita, portal_b.tenant, plan_code="business")
    b_before, gamma_before = _subscription(portal_b.tenant), _subscription(gamma)
    # Someone adds items for B and Gamma to Wektor's subscription by hand in the Stripe dashboard.
    price_id = _price("start").stripe_price_id or stripe_gateway.ensure_stripe_price(_price("start"))
    for tenant in (portal_b.tenant, gamma):
        fake_stripe.add_item(wektor_sub["id"], price_id=price_id, metadata={"tenant_schema": tenant.schema_name})
    changes_before = list(portal_status_changes)

    deliver(stripe_client, fake_stripe.event("customer.subscription.updated",
                                             fake_stripe.snapshot("subscriptions", wektor_sub["id"])))
    deliver(stripe_client, fake_stripe.event("invoice.payment_failed",
                                             fake_stripe.renew(wektor_sub["id"], paid=False)))

    assert _status(portal_a.tenant) == "past_due"
    for tenant, before in ((portal_b.tenant, b_before), (gamma, gamma_before)):
        after = _subscription(tenant)
        assert (after.partner_account_id, after.plan_id, after.status, after.seats, after.past_due_since) == (
            before.partner_account_id, before.plan_id, before.status, before.seats, before.past_due_since)
    assert _subscription(portal_b.tenant).partner_account_id == _account(orbita).pk
    assert portal_status_changes == [*changes_before, (portal_a.tenant.schema_name, "active", "past_due")]
    # Staff see that B and Gamma are on a bill that is not theirs.
    stripe_sync.reconcile_with_stripe()
    for tenant in (portal_b.tenant, gamma):
        assert {field for field, _local, _stripe in _open_drifts(tenant)} == {"stray_subscription_item"}
    assert _open_drifts(portal_a.tenant) == set()


def test_events_of_a_portals_own_old_subscription_do_not_touch_it_while_a_partner_pays(
        wektor, portal_a, stripe_client, fake_stripe):
    own = subscribe(fake_stripe, stripe_client, portal_a.tenant, plan_code="start").subscription
    deliver(stripe_client, fake_stripe.event("customer.subscription.deleted",
                                             fake_stripe.cancel_subscription(own["id"])))
    _start_partner_subscription(fake_stripe, stripe_client, wektor, portal_a.tenant, plan_code="business")

    # Stripe redelivers the end of the portal's own subscription under a new event id.
    deliver(stripe_client, fake_stripe.event("customer.subscription.deleted",
                                             fake_stripe.snapshot("subscriptions", own["id"])))

    subscription = _subscription(portal_a.tenant)
    assert (subscription.partner_account_id, subscription.status, subscription.plan.code) == (
        _account(wektor).pk, "active", "business")
    assert subscription.stripe_subscription_id == own["id"]  # kept, and ended: off the partner's bill means free
    assert partner_billing.move_client_off_partner_billing(tenant=portal_a.tenant).status == "free"


# --- Reconciliation ----------------------------------------------------------------------------------

def _open_drifts(tenant) -> set[tuple[str, str, str]]:
    return set(BillingDrift.objects.filter(tenant=tenant, resolved_at__isnull=True)
               .values_list("field", "local_value", "stripe_value"))


def test_reconciliation_compares_every_client_with_its_item(wektor, portal_a, portal_b, stripe_client, fake_stripe):
    outcome = _pay_for_a_and_b(fake_stripe, stripe_client, wektor, portal_a, portal_b)
    sub_id = outcome.subscription["id"]
    gamma = _new_portal("gamma", "Gamma Usługi")
    assert stripe_sync.reconcile_with_stripe() == []

    # Lost webhooks: B's seats were raised in Stripe, and an item for Gamma was added by hand.
    b_item = _item_of(fake_stripe, sub_id, portal_b.tenant)
    fake_stripe.subscriptions[sub_id]["items"]["data"][1]["quantity"] = 9
    gamma_item = fake_stripe.add_item(sub_id, price_id=b_item["price"]["id"],
                                      metadata={"tenant_schema": gamma.schema_name})
    stripe_sync.reconcile_with_stripe()
    stripe_sync.reconcile_with_stripe()  # the next night: the same rows

    assert _open_drifts(portal_a.tenant) == set()
    assert _open_drifts(portal_b.tenant) == {("seats", "5", "9")}
    assert _open_drifts(gamma) == {("stray_subscription_item", "", f"{gamma_item['id']} (agencja-wektor)")}
    assert BillingDrift.objects.count() == 2

    # The webhook catches up and the stray item is removed: nothing differs any more.
    deliver(stripe_client, fake_stripe.event("customer.subscription.updated",
                                             fake_stripe.snapshot("subscriptions", sub_id)))
    fake_stripe.subscriptions[sub_id]["items"]["data"].pop()
    stripe_sync.reconcile_with_stripe()
    assert _open_drifts(portal_b.tenant) == _open_drifts(gamma) == set()


def test_reconciliation_reports_a_client_whose_item_is_gone(wektor, portal_a, portal_b, stripe_client, fake_stripe):
    outcome = _pay_for_a_and_b(fake_stripe, stripe_client, wektor, portal_a, portal_b)
    b_item = _item_of(fake_stripe, outcome.subscription["id"], portal_b.tenant)
    fake_stripe.subscriptions[outcome.subscription["id"]]["items"]["data"].pop()

    stripe_sync.reconcile_with_stripe()

    assert _open_drifts(portal_b.tenant) == {("subscription_item", b_item["id"], "")}
    assert _open_drifts(portal_a.tenant) == set()


# --- The gateway -------------------------------------------------------------------------------------

def test_every_item_is_read_even_when_stripe_embeds_only_the_first_page(portal_a, fake_stripe):
    customer_id = stripe_gateway.ensure_customer(tenant=portal_a.tenant)
    price_id = stripe_gateway.ensure_stripe_price(_price("start"))
    subscription = fake_stripe.create_subscription(customer=customer_id, price_id=price_id)
    for number in range(11):
        fake_stripe.add_item(subscription["id"], price_id=price_id, metadata={"tenant_schema": f"t_{number:012d}"})

    assert len(stripe_gateway.fetch_subscription(subscription["id"])["items"]["data"]) == 10
    data = stripe_gateway.fetch_subscription_with_all_items(subscription["id"])
    assert len(data["items"]["data"]) == 12
    assert len(stripe_sync.client_items_of(data)) == 11  # the first item names no portal
