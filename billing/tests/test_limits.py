"""The limits service: exact under concurrency, clear about the limit, the usage and the way out."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.utils import translation
from django_tenants.utils import tenant_context

from billing import limits
from billing.models import Plan, Resource, Subscription
from identity.accounts.models import User
from identity.members.models import Membership
from identity.members.services import add_member
from kompas.testing.fixtures import in_own_connection


def _put_on_plan(tenant, code: str, seats: int | None = None) -> None:
    Subscription.objects.filter(tenant=tenant).update(plan=Plan.objects.get(code=code), seats=seats,
                                                      status=Subscription.Status.ACTIVE)


@pytest.mark.django_db
def test_a_new_portal_is_on_a_30_day_trial_of_the_top_plan(portal_a):
    subscription = Subscription.objects.get(tenant=portal_a.tenant)
    assert subscription.plan.code == "enterprise"
    assert subscription.status == Subscription.Status.TRIALING
    assert 29 <= (subscription.trial_ends_at - subscription.tenant.created_at).days <= 30


@pytest.mark.django_db
def test_usage_report_counts_seats_against_the_plan(portal_a):
    _put_on_plan(portal_a.tenant, "start")
    seats = next(line for line in limits.usage_report(portal_a.tenant) if line.resource == Resource.SEATS)
    assert (seats.used, seats.limit, seats.percent) == (1, 2, 50)


@pytest.mark.django_db
def test_per_seat_plan_limits_seats_to_the_number_bought(portal_a):
    _put_on_plan(portal_a.tenant, "per-seat", seats=7)
    assert limits.limit_of(portal_a.tenant, Resource.SEATS) == 7


@pytest.mark.django_db
def test_the_refusal_names_the_limit_the_usage_and_how_to_raise_it(portal_a):
    _put_on_plan(portal_a.tenant, "start", seats=None)
    extra = User.objects.create_user(email="tomasz.lewandowski@alfa-handel.pl", password="x")
    second = User.objects.create_user(email="ola.kaminska@alfa-handel.pl", password="x")
    with tenant_context(portal_a.tenant):
        add_member(user=extra)
        with translation.override("en"), pytest.raises(limits.LimitReached) as refused:
            add_member(user=second)
        assert not Membership.objects.filter(user=second).exists()
    message = refused.value.message_dict["seats"][0]
    assert "allows 2 users and 2 are in use" in message
    assert "Settings → Billing" in message
    with translation.override("pl"):
        polish = limits.LimitReached(resource="seats", limit=2, used=2, adding=1).message_dict["seats"][0]
    assert "Limit Twojego planu: użytkownicy — 2, w użyciu: 2" in polish


@pytest.mark.django_db
def test_features_follow_the_plan(portal_a):
    _put_on_plan(portal_a.tenant, "start")
    assert not limits.has_feature(portal_a.tenant, "custom_domain")
    with translation.override("en"), pytest.raises(limits.FeatureNotInPlan) as refused:
        limits.require_feature(portal_a.tenant, "custom_domain")
    assert "Custom domain is not included in your plan" in refused.value.message_dict["custom_domain"][0]
    _put_on_plan(portal_a.tenant, "team")
    limits.require_feature(portal_a.tenant, "custom_domain")


@pytest.mark.django_db
def test_admit_refuses_to_run_outside_a_transaction(portal_a):
    def outside_any_transaction() -> None:
        with limits.admit(portal_a.tenant, Resource.SEATS):
            pass

    with pytest.raises(RuntimeError, match=r"inside transaction\.atomic"):
        in_own_connection(outside_any_transaction)


@pytest.mark.django_db
def test_fifty_concurrent_invites_at_limit_minus_one_admit_exactly_one(portals):
    tenant = portals["b"].tenant
    original = Subscription.objects.get(tenant=tenant)

    def prepare() -> list[User]:
        _put_on_plan(tenant, "start")  # 2 seats; the owner holds one
        return [User.objects.create_user(email=f"kandydat{n:02d}@beta-serwis.pl", password=None) for n in range(50)]

    def count_active() -> int:
        with tenant_context(tenant):
            return Membership.objects.filter(is_active=True).count()

    def clean_up(people: list[User]) -> None:
        with tenant_context(tenant):
            Membership.objects.filter(user__in=people).delete()
        User.objects.filter(pk__in=[person.pk for person in people]).delete()
        Subscription.objects.filter(pk=original.pk).update(plan=original.plan, seats=original.seats,
                                                           status=original.status)

    people = in_own_connection(prepare)
    barrier, outcomes, lock = threading.Barrier(len(people)), [], threading.Lock()

    def invite(user: User) -> None:
        try:
            connection.set_tenant(tenant)
            barrier.wait()
            try:
                add_member(user=user)
                result = "admitted"
            except limits.LimitReached:
                result = "refused"
            with lock:
                outcomes.append(result)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=invite, args=(person,)) for person in people]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert outcomes.count("admitted") == 1
        assert outcomes.count("refused") == 49
        assert in_own_connection(count_active) == 2
    finally:
        in_own_connection(clean_up, people)
