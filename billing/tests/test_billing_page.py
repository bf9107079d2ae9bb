"""The billing page: administrators only, usage against every limit, details with valid tax numbers."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from billing.models import BillingDetails, Plan, Subscription
from identity.accounts.models import User
from identity.members.services import add_member

pytestmark = pytest.mark.django_db

PAGE = "/settings/billing/"


def _signed_in_member(portal, *, is_admin: bool) -> Client:
    user = User.objects.create_user(email=f"{'admin' if is_admin else 'handlowiec'}@{portal.host}",
                                    password=portal.password, full_name="Zofia Dąbrowska")
    with tenant_context(portal.tenant):
        add_member(user=user, is_admin=is_admin)
        client = Client(HTTP_HOST=portal.host, HTTP_ACCEPT_LANGUAGE="en")
        assert client.login(username=user.email, password=portal.password)
    return client


def test_owner_sees_plan_and_usage_against_every_limit(portal_a):
    response = portal_a.client(logged_in=True).get(PAGE, HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Enterprise" in body and "Trial" in body
    assert "1 of 500" in body            # users
    assert "0\xa0bytes of 3.0\xa0TB" in body  # storage
    assert "Pipelines" in body


def test_usage_is_shown_in_polish(portal_a):
    body = portal_a.client(logged_in=True).get(PAGE, HTTP_ACCEPT_LANGUAGE="pl").content.decode()
    assert "Plan i rozliczenia" in body
    assert "1 z 500" in body


def test_a_member_who_is_not_an_administrator_is_refused_with_a_reason(portal_a):
    client = _signed_in_member(portal_a, is_admin=False)
    response = client.get(PAGE)
    assert response.status_code == 403
    assert "Only the portal's administrators can see and change its plan and billing" in response.content.decode()
    assert client.post("/settings/billing/details/", {"company_name": "X"}).status_code == 403


def test_anonymous_visitor_is_sent_to_log_in(portal_a):
    response = portal_a.client().get(PAGE)
    assert response.status_code == 302 and "/auth/login/" in response["Location"]


def test_billing_details_with_a_valid_nip_are_saved(portal_a):
    client = portal_a.client(logged_in=True)
    response = client.post("/settings/billing/details/", {
        "company_name": "Alfa Handel Sp. z o.o.", "nip": "526-000-12-46", "vat_id": "", "street": "ul. Długa 5",
        "postal_code": "00-238", "city": "Warszawa", "country": "PL", "email": "faktury@alfa-handel.pl"})
    assert response.status_code == 302
    details = BillingDetails.objects.get(tenant=portal_a.tenant)
    assert details.nip == "5260001246"


def test_a_wrong_nip_is_refused_naming_the_field_and_nothing_is_saved(portal_a):
    client = portal_a.client(logged_in=True)
    response = client.post("/settings/billing/details/", {
        "company_name": "Alfa Handel Sp. z o.o.", "nip": "526-000-12-47", "street": "ul. Długa 5",
        "postal_code": "00-238", "city": "Warszawa", "country": "PL", "email": "faktury@alfa-handel.pl"},
        HTTP_ACCEPT_LANGUAGE="pl")
    assert response.status_code == 400
    assert "Ten NIP jest nieprawidłowy" in response.content.decode()
    assert not BillingDetails.objects.filter(tenant=portal_a.tenant).exists()


def test_an_eu_vat_number_is_checked_too(portal_a):
    client = portal_a.client(logged_in=True)
    response = client.post("/settings/billing/details/", {
        "company_name": "Alfa GmbH", "vat_id": "DE136695978", "street": "Hauptstraße 1", "postal_code": "10115",
        "city": "Berlin", "country": "DE", "email": "rechnung@alfa.de"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "This EU VAT number is not valid" in response.content.decode()


def test_downgrade_is_scheduled_for_the_next_period_with_the_exact_list_to_reduce(portal_a):
    subscription = Subscription.objects.get(tenant=portal_a.tenant)
    subscription.plan = Plan.objects.get(code="team")
    subscription.status = Subscription.Status.ACTIVE
    subscription.stripe_subscription_id = "sub_test_downgrade"
    subscription.save()
    extra = User.objects.create_user(email="piotr.nowak@alfa-handel.pl", password="x")
    second = User.objects.create_user(email="ewa.nowak@alfa-handel.pl", password="x")
    with tenant_context(portal_a.tenant):
        add_member(user=extra)
        add_member(user=second)  # 3 people; the Start plan allows 2

    client = portal_a.client(logged_in=True)
    response = client.post("/settings/billing/plan/", {"plan": "start", "interval": "month", "currency": "PLN"})
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.plan.code == "team"
    assert subscription.scheduled_plan.code == "start"
    page = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Over the new plan's limits" in page
    assert "Users: 3 of 2" in page

    client.post("/settings/billing/plan/cancel-change/")
    subscription.refresh_from_db()
    assert subscription.scheduled_plan is None


def test_portal_a_administrator_cannot_open_portal_b_billing(portal_a, portal_b):
    client = portal_a.client(logged_in=True)
    for host in (portal_b.host, portal_b.host.upper()):
        response = client.get(PAGE, HTTP_HOST=host)
        assert response.status_code == 302
        assert portal_b.tenant.name not in response.content.decode()
    response = client.post("/settings/billing/details/", {"company_name": "Przejęcie"}, HTTP_HOST=portal_b.host)
    assert response.status_code == 302
    assert not BillingDetails.objects.filter(tenant=portal_b.tenant).exists()


def test_the_billing_page_runs_a_bounded_number_of_queries(portal_a, django_assert_max_num_queries):
    client = portal_a.client(logged_in=True)
    client.get(PAGE)
    with django_assert_max_num_queries(25):
        client.get(PAGE)


def test_a_scheduled_downgrade_takes_over_at_the_end_of_the_period(portal_a):
    from datetime import timedelta

    from django.utils import timezone

    from billing.services import apply_due_scheduled_changes

    subscription = Subscription.objects.get(tenant=portal_a.tenant)
    subscription.plan = Plan.objects.get(code="team")
    subscription.scheduled_plan = Plan.objects.get(code="start")
    subscription.status = Subscription.Status.FREE
    subscription.current_period_end = timezone.now() - timedelta(minutes=1)
    subscription.save()
    assert [s.pk for s in apply_due_scheduled_changes()] == [subscription.pk]
    subscription.refresh_from_db()
    assert subscription.plan.code == "start" and subscription.scheduled_plan is None
