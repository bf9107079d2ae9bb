"""Settings → CRM pages for administrators: custom fields and lists of values."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from crm.core import services
from crm.core.custom_fields import create_custom_field
from crm.core.models import ChangeEntry, CustomField
from crm.core.settings_views import code_from_label
from crm.dictionaries.models import Choice, ChoiceKind
from identity.accounts.models import User
from identity.members.models import Membership, Role
from identity.members.services import add_member, assign

pytestmark = pytest.mark.django_db


def _admin(portal) -> Membership:
    return Membership.objects.select_related("user").get(user=portal.owner)


def _client(portal) -> Client:
    client = portal.client(logged_in=True)
    client.cookies["django_language"] = "en"
    return client


def _salesperson(portal) -> Client:
    email = "piotr.wisniewski@alfa-handel.pl"
    with tenant_context(portal.tenant):
        user = User.objects.create_user(email=email, password=portal.password, full_name="Piotr Wiśniewski")
        assign(membership=add_member(user=user), role=Role.objects.get(code="salesperson"))
    client = Client(HTTP_HOST=portal.host)
    with tenant_context(portal.tenant):
        assert client.login(username=email, password=portal.password)
    return client


# --- Custom fields ------------------------------------------------------------------------------------

def test_codes_are_suggested_from_polish_names():
    assert code_from_label("Numer umowy ŁĄCZNEJ") == "numer_umowy_lacznej"
    assert code_from_label("Źródło — żółć / gęś") == "zrodlo_zolc_ges"
    assert code_from_label("2. termin płatności") == "f_2_termin_platnosci"
    assert code_from_label("!!!") == ""


def test_fields_page_lists_fields_per_record_type(portal_a):
    with tenant_context(portal_a.tenant):
        create_custom_field(entity="deal", code="budzet", label="Budżet klienta", field_type="money")
        create_custom_field(entity="contact", code="imieniny", label="Imieniny", field_type="date")
    client = _client(portal_a)
    body = client.get("/settings/crm/fields/?entity=deal").content.decode()
    assert "Budżet klienta" in body and "Imieniny" not in body
    assert 'href="?entity=contact"' in body and 'href="?entity=task"' in body
    assert "Imieniny" in client.get("/settings/crm/fields/?entity=contact").content.decode()


def test_an_administrator_adds_a_list_field_with_a_suggested_code(portal_a):
    response = _client(portal_a).post("/settings/crm/fields/", {
        "entity": "deal", "label": "Branża klienta", "code": "", "field_type": "select",
        "options": "Handel\nUsługi\n\nProdukcja", "default": "Usługi", "help_text": "Do raportów", "required": "on"})
    assert response.status_code == 302 and response["Location"] == "/settings/crm/fields/?entity=deal"
    with tenant_context(portal_a.tenant):
        field = CustomField.objects.get(entity="deal", code="branza_klienta")
        assert (field.label, field.options, field.default, field.required, field.help_text) == (
            "Branża klienta", ["Handel", "Usługi", "Produkcja"], "Usługi", True, "Do raportów")


def test_a_second_field_with_the_same_name_gets_a_free_code(portal_a):
    client = _client(portal_a)
    for _ in range(2):
        client.post("/settings/crm/fields/", {"entity": "contact", "label": "Numer klienta", "field_type": "text"})
    with tenant_context(portal_a.tenant):
        assert set(CustomField.objects.filter(entity="contact").values_list("code", flat=True)) == {
            "numer_klienta", "numer_klienta_2"}


def test_bad_input_shows_the_field_errors(portal_a):
    client = _client(portal_a)
    response = client.post("/settings/crm/fields/", {"entity": "deal", "label": "Pusta lista", "field_type": "select"})
    assert response.status_code == 400
    assert "A list needs at least one option." in response.content.decode()
    response = client.post("/settings/crm/fields/", {"entity": "deal", "label": "Kod", "code": "Zły kod!",
                                                     "field_type": "text"})
    assert "Use lower-case letters, digits and underscores, starting with a letter." in response.content.decode()
    response = client.post("/settings/crm/fields/", {"entity": "deal", "label": "Liczba", "field_type": "number",
                                                     "default": "dużo"})
    assert "Enter a number." in response.content.decode()
    with tenant_context(portal_a.tenant):
        assert not CustomField.objects.exists()


def test_editing_a_field_keeps_its_code_and_allows_only_compatible_types(portal_a):
    with tenant_context(portal_a.tenant):
        field = create_custom_field(entity="deal", code="numer_umowy", label="Numer umowy", field_type="text")
    client = _client(portal_a)
    page = client.get(f"/settings/crm/fields/{field.pk}/").content.decode()
    assert 'value="long_text"' in page and 'value="number"' not in page
    response = client.post(f"/settings/crm/fields/{field.pk}/", {"label": "Numer umowy ramowej",
                                                                  "field_type": "long_text", "code": "inny"})
    assert response.status_code == 302
    response = client.post(f"/settings/crm/fields/{field.pk}/", {"label": "Numer", "field_type": "number"})
    assert response.status_code == 400 and "Select a valid choice." in response.content.decode()
    with tenant_context(portal_a.tenant):
        field.refresh_from_db()
        assert (field.code, field.label, field.field_type) == ("numer_umowy", "Numer umowy ramowej", "long_text")


def test_switching_a_field_off_keeps_the_values_and_it_can_come_back(portal_a):
    with tenant_context(portal_a.tenant):
        field = create_custom_field(entity="contact", code="imieniny", label="Imieniny", field_type="text")
        contact = services.create_record(actor=_admin(portal_a), code="contact", values={
            "last_name": "Kowalska", "custom": {"imieniny": "24 czerwca"}})
    client = _client(portal_a)
    client.post(f"/settings/crm/fields/{field.pk}/switch/")
    body = client.get("/settings/crm/fields/?entity=contact").content.decode()
    assert "Switched off" in body and "Switch on" in body
    with tenant_context(portal_a.tenant):
        field.refresh_from_db()
        contact.refresh_from_db()
        assert not field.is_active and contact.custom == {"imieniny": "24 czerwca"}
    client.post(f"/settings/crm/fields/{field.pk}/switch/", {"active": "1"})
    with tenant_context(portal_a.tenant):
        field.refresh_from_db()
        assert field.is_active


def test_fields_are_reordered_with_the_arrows_and_by_dragging(portal_a):
    with tenant_context(portal_a.tenant):
        first, second, third = (create_custom_field(entity="deal", code=code, label=code.title(), field_type="text")
                                for code in ("pierwsze", "drugie", "trzecie"))
    client = _client(portal_a)
    client.post(f"/settings/crm/fields/{third.pk}/move/", {"direction": "up"})

    def order():
        with tenant_context(portal_a.tenant):
            return list(CustomField.objects.filter(entity="deal").order_by("position").values_list("code", flat=True))

    assert order() == ["pierwsze", "trzecie", "drugie"]
    response = client.post("/settings/crm/fields/order/", {"entity": "deal", "ids": [second.pk, first.pk, third.pk]},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert order() == ["drugie", "pierwsze", "trzecie"]


def test_settings_pages_are_for_administrators_only(portal_a):
    client = _salesperson(portal_a)
    for path in ("/settings/crm/fields/", "/settings/crm/lists/"):
        assert client.get(path).status_code == 403
    assert client.post("/settings/crm/fields/", {"entity": "deal", "label": "X", "field_type": "text"}).status_code \
        == 403
    with tenant_context(portal_a.tenant):
        assert not CustomField.objects.exists()


def test_a_field_of_portal_b_is_not_found_on_portal_a(portal_a, portal_b):
    with tenant_context(portal_b.tenant):
        field = create_custom_field(entity="deal", code="tajne", label="Pole Bety", field_type="text")
    with tenant_context(portal_a.tenant):
        CustomField.objects.filter(pk=field.pk).delete()
    client = _client(portal_a)
    assert client.get(f"/settings/crm/fields/{field.pk}/").status_code == 404
    assert client.post(f"/settings/crm/fields/{field.pk}/switch/").status_code == 404
    with tenant_context(portal_b.tenant):
        field.refresh_from_db()
        assert field.is_active


def test_posts_with_portal_a_session_on_portal_b_host_are_refused(portal_a, portal_b):
    client = _client(portal_a)
    response = client.post("/settings/crm/fields/", {"entity": "deal", "label": "Włamanie", "field_type": "text"},
                           HTTP_HOST=portal_b.host)
    assert response.status_code == 302 and "/auth/login/" in response["Location"]
    response = client.post("/settings/crm/lists/", {"kind": "source", "name": "Włamanie"}, HTTP_HOST=portal_b.host)
    assert response.status_code == 302
    with tenant_context(portal_b.tenant):
        assert not CustomField.objects.exists()
        assert not Choice.objects.filter(name="Włamanie").exists()


@pytest.mark.parametrize("count", [3, 30])
def test_fields_page_queries_do_not_grow(portal_a, django_assert_max_num_queries, count):
    with tenant_context(portal_a.tenant):
        for index in range(count):
            create_custom_field(entity="deal", code=f"pole_{index}", label=f"Pole {index}", field_type="select",
                                options=["Tak", "Nie"])
    client = _client(portal_a)
    client.get("/settings/crm/fields/?entity=deal")
    with django_assert_max_num_queries(9):
        assert client.get("/settings/crm/fields/?entity=deal").status_code == 200


# --- Lists of values ----------------------------------------------------------------------------------

def test_lists_page_shows_sources_with_their_categories(portal_a):
    body = _client(portal_a).get("/settings/crm/lists/").content.decode()
    with tenant_context(portal_a.tenant):
        source = Choice.objects.filter(kind=ChoiceKind.SOURCE).select_related("category").first()
    assert source.name in body and source.category.name in body
    assert 'href="?kind=industry"' in body


def test_an_administrator_adds_renames_and_reorders_values(portal_a):
    client = _client(portal_a)
    response = client.post("/settings/crm/lists/", {"kind": "industry", "name": "Piekarnictwo"})
    assert response.status_code == 302 and response["Location"] == "/settings/crm/lists/?kind=industry"
    client.post("/settings/crm/lists/", {"kind": "industry", "name": "Ogrodnictwo"})
    with tenant_context(portal_a.tenant):
        bakery = Choice.objects.get(kind="industry", name="Piekarnictwo")
        gardens = Choice.objects.get(kind="industry", name="Ogrodnictwo")
    response = client.get(f"/settings/crm/lists/?kind=industry&edit={bakery.pk}").content.decode()
    assert 'name="edit-name" value="Piekarnictwo"' in response
    assert client.post(f"/settings/crm/lists/{bakery.pk}/", {"edit-name": "Piekarnie i cukiernie"}).status_code == 302
    client.post(f"/settings/crm/lists/{gardens.pk}/move/", {"direction": "up"})
    with tenant_context(portal_a.tenant):
        names = list(Choice.objects.filter(kind="industry").order_by("position").values_list("name", flat=True))
    assert names == ["Ogrodnictwo", "Piekarnie i cukiernie"]


def test_a_duplicate_name_shows_the_error_on_the_field(portal_a):
    client = _client(portal_a)
    client.post("/settings/crm/lists/", {"kind": "industry", "name": "Handel"})
    response = client.post("/settings/crm/lists/", {"kind": "industry", "name": "handel"})
    assert response.status_code == 400 and "“handel” is already on this list." in response.content.decode()
    response = client.post("/settings/crm/lists/", {"kind": "industry", "name": ""})
    assert response.status_code == 400 and "This field is required." in response.content.decode()


def test_a_source_moves_to_another_category(portal_a):
    with tenant_context(portal_a.tenant):
        source = Choice.objects.filter(kind=ChoiceKind.SOURCE).first()
        other = Choice.objects.filter(kind=ChoiceKind.SOURCE_CATEGORY).exclude(pk=source.category_id).first()
    _client(portal_a).post(f"/settings/crm/lists/{source.pk}/", {"edit-name": source.name, "edit-category": other.pk})
    with tenant_context(portal_a.tenant):
        source.refresh_from_db()
        assert source.category_id == other.pk


def test_deleting_a_value_in_use_asks_for_a_replacement_and_moves_the_records(portal_a):
    with tenant_context(portal_a.tenant):
        admin = _admin(portal_a)
        fair, partner = (Choice.objects.filter(kind=ChoiceKind.SOURCE).order_by("position")[index] for index in (0, 1))
        companies = [services.create_record(actor=admin, code="company", values={"name": name, "source": fair.pk})
                     for name in ("Piekarnia Żytnia s.c.", "Hurtownia Ćma S.A.")]
    client = _client(portal_a)
    dialog = client.get(f"/settings/crm/lists/{fair.pk}/delete/", HTTP_HX_REQUEST="true").content.decode()
    assert dialog.startswith('<div class="dialog-body">')
    assert "is used by 2 records" in dialog and f'<option value="{partner.pk}">' in dialog
    refused = client.post(f"/settings/crm/lists/{fair.pk}/delete/")
    assert refused.status_code == 400 and "choose a value to put in its place" in refused.content.decode()
    response = client.post(f"/settings/crm/lists/{fair.pk}/delete/", {"replacement": partner.pk})
    assert response.status_code == 302
    with tenant_context(portal_a.tenant):
        assert not Choice.objects.filter(pk=fair.pk).exists()
        for company in companies:
            company.refresh_from_db()
            assert company.source_id == partner.pk
            line = ChangeEntry.objects.get(entity="company", record_id=company.pk, field="source")
            assert (line.old_value, line.new_value, line.actor_id) == (fair.name, partner.name, admin.pk)


def test_an_unused_value_is_deleted_without_a_replacement(portal_a):
    with tenant_context(portal_a.tenant):
        value = Choice.objects.create(kind=ChoiceKind.INDUSTRY, name="Rybołówstwo")
    client = _client(portal_a)
    assert "No record uses it." in client.get(f"/settings/crm/lists/{value.pk}/delete/").content.decode()
    assert client.post(f"/settings/crm/lists/{value.pk}/delete/").status_code == 302
    with tenant_context(portal_a.tenant):
        assert not Choice.objects.filter(pk=value.pk).exists()


def test_a_value_of_portal_b_is_not_found_on_portal_a(portal_a, portal_b):
    with tenant_context(portal_b.tenant):
        value = Choice.objects.create(kind=ChoiceKind.INDUSTRY, name="Branża Bety")
    with tenant_context(portal_a.tenant):
        Choice.objects.filter(pk=value.pk).delete()
    client = _client(portal_a)
    assert client.post(f"/settings/crm/lists/{value.pk}/delete/").status_code == 404
    assert client.post(f"/settings/crm/lists/{value.pk}/", {"edit-name": "Przejęta"}).status_code == 404
    with tenant_context(portal_b.tenant):
        assert Choice.objects.get(pk=value.pk).name == "Branża Bety"


@pytest.mark.parametrize("count", [3, 30])
def test_lists_page_queries_do_not_grow(portal_a, django_assert_max_num_queries, count):
    with tenant_context(portal_a.tenant):
        category = Choice.objects.filter(kind=ChoiceKind.SOURCE_CATEGORY).first()
        for index in range(count):
            Choice.objects.create(kind=ChoiceKind.SOURCE, name=f"Źródło {index}", category=category)
    client = _client(portal_a)
    client.get("/settings/crm/lists/")
    with django_assert_max_num_queries(9):
        assert client.get("/settings/crm/lists/").status_code == 200
