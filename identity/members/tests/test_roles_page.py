"""Settings → Roles and departments, as an administrator uses it."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from identity.members import permissions
from identity.members.models import Action, Department, Role, RolePermission

pytestmark = pytest.mark.django_db


def _all_rights(scope: str) -> dict:
    return {f"{spec.code}.{action}": scope for spec in permissions.entities() for action in Action.values}


def test_an_administrator_edits_the_rights_of_a_role(portal_a):
    with tenant_context(portal_a.tenant):
        salesperson = Role.objects.get(code="salesperson")
    client = portal_a.client(logged_in=True)
    page = client.get(f"/settings/roles/?role={salesperson.pk}", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'name="deal.read"' in page
    rights = _all_rights("own") | {"deal.read": "all"}
    assert client.post(f"/settings/roles/{salesperson.pk}/rights/", rights).status_code == 302
    with tenant_context(portal_a.tenant):
        assert RolePermission.objects.get(role=salesperson, entity="deal", action="read").scope == "all"
        assert RolePermission.objects.get(role=salesperson, entity="contact", action="import").scope == "own"


def test_an_unknown_scope_saves_nothing(portal_a):
    with tenant_context(portal_a.tenant):
        guest = Role.objects.get(code="guest")
        before = list(RolePermission.objects.filter(role=guest).order_by("pk").values_list("scope", flat=True))
    portal_a.client(logged_in=True).post(f"/settings/roles/{guest.pk}/rights/",
                                         _all_rights("all") | {"task.read": "wszystko"})
    with tenant_context(portal_a.tenant):
        assert list(RolePermission.objects.filter(role=guest).order_by("pk").values_list("scope", flat=True)) == before


def test_custom_roles_and_a_csv_import_with_errors_reported(portal_a):
    client = portal_a.client(logged_in=True)
    client.post("/settings/roles/new/", {"name": "Praktykant"})
    bad = SimpleUploadedFile("prawa.csv", b"role,entity,action,scope\nPraktykant,umowy,read,all\n",
                             content_type="text/csv")
    client.post("/settings/roles/import/", {"file": bad}, HTTP_ACCEPT_LANGUAGE="en")
    page = client.get("/settings/roles/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Nothing was imported" in page and "umowy" in page
    good = SimpleUploadedFile("prawa.csv", b"role,entity,action,scope\nPraktykant,deal,read,own\n",
                              content_type="text/csv")
    client.post("/settings/roles/import/", {"file": good})
    with tenant_context(portal_a.tenant):
        role = Role.objects.get(name="Praktykant")
        assert RolePermission.objects.get(role=role, entity="deal", action="read").scope == "own"


def test_departments_are_added_and_moved(portal_a):
    client = portal_a.client(logged_in=True)
    client.post("/settings/roles/departments/", {"name": "Handel"})
    client.post("/settings/roles/departments/", {"name": "Obsługa klienta"})
    with tenant_context(portal_a.tenant):
        trade, service = Department.objects.get(name="Handel"), Department.objects.get(name="Obsługa klienta")
    client.post(f"/settings/roles/departments/{service.pk}/move/", {"parent": trade.pk})
    with tenant_context(portal_a.tenant):
        service.refresh_from_db()
        assert service.parent_id == trade.pk and service.path == f"{trade.path}{service.pk}/"


def test_only_administrators_and_only_of_this_portal(portal_a, portal_b):
    with tenant_context(portal_b.tenant):
        role_b = Role.objects.get(code="guest")
    client = portal_a.client(logged_in=True)
    # a guessed id of portal B's role is simply not found in portal A's schema
    response = client.post(f"/settings/roles/{role_b.pk + 1000}/rights/", _all_rights("all"))
    assert response.status_code == 404
    assert client.get("/settings/roles/", HTTP_HOST=portal_b.host).status_code == 302
