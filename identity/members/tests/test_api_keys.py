"""API keys: shown once, stored hashed, bound to a role, revocable, and useless on another portal."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from billing.models import Plan, Subscription
from identity.members.models import ApiKey, Membership, Role
from identity.members.services import create_api_key, revoke_api_key

pytestmark = pytest.mark.django_db


def _key(portal, role_code: str = "crm_manager", name: str = "Formularz na stronie") -> tuple[ApiKey, str]:
    with tenant_context(portal.tenant):
        return create_api_key(name=name, role=Role.objects.get(code=role_code), created_by=None)


def _api(portal, token: str, path: str = "/api/v1/me/", host: str | None = None):
    return Client(HTTP_HOST=host or portal.host, HTTP_ACCEPT_LANGUAGE="en").get(
        path, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_key_is_stored_only_as_a_hash(portal_a):
    key, token = _key(portal_a)
    assert token.startswith(f"kp_{key.prefix}_")
    assert key.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in key.token_hash


def test_a_key_calls_the_api_with_its_role_and_records_its_use(portal_a):
    key, token = _key(portal_a)
    response = _api(portal_a, token)
    assert response.status_code == 200
    assert response.json() == {"portal": {"name": portal_a.tenant.name, "address": "alfa"},
                               "api_key": "Formularz na stronie", "role": key.role.name}
    with tenant_context(portal_a.tenant):
        assert ApiKey.objects.get(pk=key.pk).last_used_at is not None


def test_the_permission_layer_applies_to_keys(portal_a):
    _unused, manager_token = _key(portal_a, "crm_manager")
    _unused, closed_token = _key(portal_a, "no_access", name="Zamknięty")
    members = _api(portal_a, manager_token, "/api/v1/members/").json()["results"]
    assert portal_a.owner.email in [member["email"] for member in members]
    refused = _api(portal_a, closed_token, "/api/v1/members/")
    assert refused.status_code == 403
    assert "You have no permission to read people" in refused.json()["detail"]


def test_a_revoked_key_is_refused(portal_a):
    key, token = _key(portal_a)
    with tenant_context(portal_a.tenant):
        revoke_api_key(key=key)
    response = _api(portal_a, token)
    assert response.status_code == 401
    assert "not valid for this portal, or it was revoked" in response.json()["detail"]


def test_a_key_of_portal_a_is_unknown_on_portal_b_also_with_a_spoofed_host(portal_a, portal_b):
    key, token = _key(portal_a)
    for host in (portal_b.host, portal_b.host.upper(), f"{portal_b.host}:443"):
        response = _api(portal_a, token, host=host)
        assert response.status_code == 401
        assert portal_a.tenant.name not in response.content.decode()
    # Guessing: the same prefix with another secret is refused on the right portal too.
    assert _api(portal_a, f"kp_{key.prefix}_{'A' * 43}").status_code == 401


def test_keys_do_not_work_on_the_public_site(portal_a):
    _key_obj, token = _key(portal_a)
    response = Client(HTTP_HOST="kompas.test").get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 404


def test_api_access_follows_the_plan(portal_a):
    _key_obj, token = _key(portal_a)
    Subscription.objects.filter(tenant=portal_a.tenant).update(plan=Plan.objects.get(code="start"),
                                                                status=Subscription.Status.ACTIVE)
    response = _api(portal_a, token)
    assert response.status_code == 403
    assert "API access is not included in this portal's plan" in response.json()["detail"]


def test_administrators_create_keys_and_see_the_token_once(portal_a):
    client = portal_a.client(logged_in=True)
    with tenant_context(portal_a.tenant):
        role = Role.objects.get(code="consultant")
    page = client.post("/settings/api-keys/", {"name": "Integracja z ERP", "role": role.pk},
                       HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "shown only once" in page
    token = page.split('data-testid="new-token">')[1].split("<")[0]
    assert _api(portal_a, token).status_code == 200
    again = client.get("/settings/api-keys/").content.decode()
    assert token not in again


def test_a_key_needs_a_name_and_the_reason_is_given(portal_a):
    client = portal_a.client(logged_in=True)
    with tenant_context(portal_a.tenant):
        role = Role.objects.get(code="consultant")
    response = client.post("/settings/api-keys/", {"name": "", "role": role.pk}, HTTP_ACCEPT_LANGUAGE="pl")
    assert response.status_code == 400
    assert "To pole jest wymagane" in response.content.decode()
    with tenant_context(portal_a.tenant):
        assert not ApiKey.objects.exists()


def test_members_without_admin_rights_cannot_manage_keys(portal_a):
    from identity.accounts.models import User
    from identity.members.services import add_member

    user = User.objects.create_user(email="stazysta@alfa-handel.pl", password=portal_a.password)
    with tenant_context(portal_a.tenant):
        add_member(user=user)
        client = Client(HTTP_HOST=portal_a.host, HTTP_ACCEPT_LANGUAGE="en")
        assert client.login(username=user.email, password=portal_a.password)
    assert client.get("/settings/api-keys/").status_code == 403
    assert client.post("/settings/api-keys/", {"name": "Tylne drzwi", "role": 1}).status_code == 403
    with tenant_context(portal_a.tenant):
        assert not ApiKey.objects.exists()
        assert Membership.objects.get(user=user).role.code == "salesperson"


def test_portal_a_admin_cannot_revoke_portal_b_keys_by_guessing_ids(portal_a, portal_b):
    key_b, token_b = _key(portal_b)
    client = portal_a.client(logged_in=True)
    response = client.post(f"/settings/api-keys/{key_b.pk}/revoke/")
    assert response.status_code == 404
    response = client.post(f"/settings/api-keys/{key_b.pk}/revoke/", HTTP_HOST=portal_b.host)
    assert response.status_code == 302 and "/auth/login/" in response["Location"]
    assert _api(portal_b, token_b).status_code == 200
