"""Staff change plans as data on the public host; nobody else reaches the staff area."""

import json

import pytest
from django.test import Client

from billing.models import Plan
from identity.accounts.models import User
from kompas.testing.fixtures import verify_two_factor

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(portals):
    User.objects.create_superuser(email="operator@kompas.test", password="Operator-haslo-42")
    client = Client(HTTP_HOST="kompas.test", HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username="operator@kompas.test", password="Operator-haslo-42")
    verify_two_factor(client, User.objects.get(email="operator@kompas.test"))
    return client


def _plan_form(plan: Plan, **changes) -> dict:
    data = {
        "code": plan.code, "name_pl": plan.name_pl, "name_en": plan.name_en, "description_pl": plan.description_pl,
        "description_en": plan.description_en, "rank": plan.rank, "limits": json.dumps(plan.limits),
        "features": json.dumps(plan.features), "is_public": "on",
        "prices-TOTAL_FORMS": "0", "prices-INITIAL_FORMS": "0", "prices-MIN_NUM_FORMS": "0",
        "prices-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def test_staff_raise_a_limit_without_a_deploy(staff_client):
    plan = Plan.objects.get(code="team")
    limits = {**plan.limits, "pipelines": 15}
    response = staff_client.post(f"/staff/admin/billing/plan/{plan.pk}/change/",
                                 _plan_form(plan, limits=json.dumps(limits)))
    assert response.status_code == 302, response.content.decode()[:2000]
    plan.refresh_from_db()
    assert plan.limits["pipelines"] == 15


def test_an_unknown_limit_is_refused_with_the_known_ones_listed(staff_client):
    plan = Plan.objects.get(code="team")
    response = staff_client.post(f"/staff/admin/billing/plan/{plan.pk}/change/",
                                 _plan_form(plan, limits=json.dumps({"lejki": 3})))
    assert response.status_code == 200
    assert "Unknown limit lejki; known limits: seats" in response.content.decode()
    plan.refresh_from_db()
    assert "lejki" not in plan.limits


def test_a_portal_owner_cannot_enter_the_staff_area(portal_a):
    client = Client(HTTP_HOST="kompas.test")
    response = client.post("/staff/admin/login/", {"username": portal_a.owner.email, "password": portal_a.password})
    assert response.status_code == 302 and response["Location"].startswith("/login/")  # the one public sign-in
    refused = client.post("/login/", {"username": portal_a.owner.email, "password": portal_a.password})
    assert refused.status_code == 400  # the sign-in form again: a portal owner has no account on the public host
    assert "_auth_user_id" not in client.session
    assert client.get("/staff/admin/billing/plan/").status_code == 302


def test_the_staff_area_does_not_exist_on_a_portal_host(portal_a):
    client = portal_a.client(logged_in=True)
    assert client.get("/staff/admin/").status_code == 404


def test_a_password_alone_does_not_open_the_data_admin(portals):
    User.objects.create_superuser(email="operator@kompas.test", password="Operator-haslo-42")
    client = Client(HTTP_HOST="kompas.test", HTTP_ACCEPT_LANGUAGE="en")
    assert client.login(username="operator@kompas.test", password="Operator-haslo-42")
    response = client.get("/staff/admin/billing/plan/")
    assert response.status_code == 302
    followed = client.get(response["Location"])
    assert followed.status_code == 302 and followed["Location"].startswith("/staff/two-factor/setup/")
    verify_two_factor(client, User.objects.get(email="operator@kompas.test"))
    assert client.get("/staff/admin/billing/plan/").status_code == 200
