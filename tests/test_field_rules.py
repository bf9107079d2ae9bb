"""Field-level rights (identity issue): a role may see a field but not change it, or not see it at
all — on every surface: services, forms, the API (answers, filters, sorting) and exports."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import translation
from django_tenants.utils import tenant_context

from crm.core import services
from crm.core.forms import record_form_class
from identity.accounts.models import User
from identity.members import permissions
from identity.members.models import FieldRule, Membership, Role, RolePermission
from identity.members.services import add_member, assign, create_api_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def assistant(portal_a):
    """A role that may work with every contact but not see phones or change positions."""
    with tenant_context(portal_a.tenant):
        role = Role.objects.create(name="Asystentka")
        for action in ("read", "create", "edit", "delete", "export"):
            RolePermission.objects.create(role=role, entity="contact", action=action, scope="all")
        FieldRule.objects.create(role=role, entity="contact", field="phones", access="hidden")
        FieldRule.objects.create(role=role, entity="contact", field="position", access="read")
        member = assign(membership=add_member(user=User.objects.create_user(
            email="asystentka@alfa-handel.pl", password=None, full_name="Ewa Asystentka")), role=role)
        admin = Membership.objects.get(user=portal_a.owner)
        contact = services.create_record(actor=admin, code="contact", values={
            "last_name": "Tajemnicza", "position": "Prezes", "phones": ["+48 601 111 222"]})
        token = create_api_key(name="Asystent", role=role, created_by=None)[1]
        yield member, contact, token


def test_services_refuse_changes_to_frozen_fields_but_accept_them_sent_back_unchanged(assistant):
    member, contact, _token = assistant
    with translation.override("en"), pytest.raises(permissions.FieldNotEditable) as refused:
        services.update_record(actor=member, record=contact, values={"position": "Dyrektor"})
    assert "position" in str(refused.value)
    with pytest.raises(permissions.FieldNotEditable):
        services.update_record(actor=member, record=contact, values={"phones": ["+48 602 000 000"]})
    with pytest.raises(permissions.FieldNotEditable):
        services.create_record(actor=member, code="contact", values={"last_name": "Nowa", "position": "Szef"})
    changed = services.update_record(actor=member, record=contact, values={"position": "Prezes", "city": "Opole"})
    assert changed.city == "Opole" and changed.position == "Prezes"


def test_forms_leave_hidden_fields_out_and_show_frozen_ones_disabled(assistant):
    member, _contact, _token = assistant
    form_class = record_form_class("contact", actor=member)
    assert "phones" not in form_class.base_fields
    assert form_class.base_fields["position"].disabled


def test_the_api_neither_shows_nor_filters_nor_sorts_by_a_hidden_field(portal_a, assistant):
    _member, contact, token = assistant
    client = Client(HTTP_HOST=portal_a.host, HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT_LANGUAGE="en")
    body = client.get(f"/api/v1/contacts/{contact.pk}/").json()
    assert "phones" not in body and body["position"] == "Prezes"
    listed = client.get("/api/v1/contacts/").json()["results"]
    assert all("phones" not in row for row in listed)
    tree = json.dumps({"field": "phones", "op": "contains", "value": "601"})
    refused = client.get("/api/v1/contacts/", {"filter": tree})
    assert refused.status_code == 400 and "phones" in json.dumps(refused.json())
    assert client.get("/api/v1/contacts/", {"ordering": "phones"}).status_code == 400
    changed = client.patch(f"/api/v1/contacts/{contact.pk}/", data=json.dumps({"position": "Wice"}),
                           content_type="application/json")
    assert changed.status_code == 403 and "position" in changed.content.decode()


def test_exports_leave_hidden_columns_out(portal_a, assistant):
    _member, _contact, token = assistant
    response = Client(HTTP_HOST=portal_a.host, HTTP_AUTHORIZATION=f"Bearer {token}",
                      HTTP_ACCEPT_LANGUAGE="en").get("/api/v1/export/contact/")
    text = b"".join(response.streaming_content).decode("utf-8")
    header = text.splitlines()[0]
    assert "phone numbers" not in header and "position" in header
    assert "+48601111222" not in text


def test_administrators_set_field_access_on_the_roles_page(portal_a):
    with tenant_context(portal_a.tenant):
        role = Role.objects.create(name="Stażysta")
    client = portal_a.client(logged_in=True)
    page = client.get(f"/settings/roles/?role={role.pk}")
    assert "contact|phones" in page.content.decode()
    response = client.post(f"/settings/roles/{role.pk}/fields/", {"contact|phones": "hidden", "deal|value": "read",
                                                                   "company|nip": ""})
    assert response.status_code == 302
    with tenant_context(portal_a.tenant):
        assert set(FieldRule.objects.filter(role=role).values_list("entity", "field", "access")) == {
            ("contact", "phones", "hidden"), ("deal", "value", "read")}
    refused = client.post(f"/settings/roles/{role.pk}/fields/", {"contact|shoe_size": "hidden"})
    assert refused.status_code == 302
    with tenant_context(portal_a.tenant):
        assert FieldRule.objects.filter(role=role).count() == 2
