"""The generic record services and the rules each domain adds to them, on a real portal schema."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django_tenants.utils import tenant_context

from crm.contacts.models import Company, Contact
from crm.core import selectors, services
from crm.core.contact_points import normalise_phone
from crm.core.history import field_label_of
from crm.core.models import ChangeEntry, CustomField, FieldType
from crm.deals import services as deals
from crm.deals.models import Deal, StageKind
from crm.dictionaries import services as dictionaries
from crm.dictionaries.models import ChoiceKind
from crm.tasks.models import Task, TaskStatus
from identity.accounts.models import User
from identity.members import permissions
from identity.members.models import Membership, Role, RolePermission, Scope
from identity.members.services import add_member, assign

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(portal_a):
    with tenant_context(portal_a.tenant):
        yield Membership.objects.get(user=portal_a.owner)


def _salesperson(entity_scopes: dict[str, str], email: str = "piotr.wisniewski@alfa-handel.pl") -> Membership:
    role = Role.objects.create(name=f"Handlowiec {email}")
    for entity, scope in entity_scopes.items():
        for action in ("read", "create", "edit", "delete"):
            RolePermission.objects.create(role=role, entity=entity, action=action, scope=scope)
    user = User.objects.create_user(email=email, password=None, full_name="Piotr Wiśniewski")
    return assign(membership=add_member(user=user), role=role)


@pytest.mark.parametrize(("typed", "expected"), [
    ("+48 600 100 200", "+48600100200"),
    ("600-100-200", "+48600100200"),
    ("48600100200", "+48600100200"),  # Excel dropped the '+'
    ("0048 600 100 200", "+48600100200"),
    ("(22) 628 12 34", "+48226281234"),
    ("+49 30 901820", "+4930901820"),
])
def test_phone_numbers_are_stored_in_e164_however_they_were_typed(typed, expected):
    assert normalise_phone(typed) == expected


def test_a_contact_keeps_normalised_contact_points_and_names_the_bad_one(owner):
    contact = services.create_record(actor=owner, code="contact", values={
        "first_name": "Łucja", "last_name": "Żółkiewska",
        "emails": [{"value": " Lucja.Zolkiewska@Example.PL ", "kind": "work"}], "phones": ["48 601 202 303"]})
    assert contact.emails == [{"value": "lucja.zolkiewska@example.pl", "kind": "work"}]
    assert contact.phones == [{"value": "+48601202303", "kind": "work"}]
    assert contact.owner == owner
    with pytest.raises(ValidationError) as refused:
        services.create_record(actor=owner, code="contact", values={"last_name": "Nowak", "phones": ["12"]})
    assert "phones" in refused.value.message_dict
    assert "12" in refused.value.message_dict["phones"][0]


def test_a_contact_needs_a_first_or_last_name(owner):
    with pytest.raises(ValidationError) as refused:
        services.create_record(actor=owner, code="contact", values={"position": "Prezes"})
    assert "last_name" in refused.value.message_dict


def test_company_tax_numbers_are_checked_by_their_check_digit(owner):
    company = services.create_record(actor=owner, code="company", values={
        "name": "Zakład Usług Różnych sp. z o.o.", "nip": "526-000-12-46", "regon": "123456785",
        "company_type": "sp_zoo"})
    assert company.nip == "5260001246"
    with pytest.raises(ValidationError) as refused:
        services.create_record(actor=owner, code="company", values={"name": "Zła Firma", "nip": "5260001247"})
    assert "NIP" in refused.value.message_dict["nip"][0]
    with pytest.raises(ValidationError) as refused:
        services.create_record(actor=owner, code="company", values={"name": ""})
    assert "name" in refused.value.message_dict
    assert not Company.objects.filter(name="Zła Firma").exists()


def test_every_changed_field_is_in_the_history_with_old_and_new_value(owner):
    contact = services.create_record(actor=owner, code="contact", values={"first_name": "Jan", "last_name": "Nowak"})
    services.update_record(actor=owner, record=contact, values={"last_name": "Nowakowski", "position": "Dyrektor"})
    lines = {entry.field: entry for entry in ChangeEntry.objects.filter(entity="contact", record_id=contact.pk,
                                                                        kind="updated")}
    assert set(lines) == {"last_name", "position"}
    assert (lines["last_name"].old_value, lines["last_name"].new_value) == ("Nowak", "Nowakowski")
    assert lines["last_name"].actor == owner
    with translation.override("en"):
        assert field_label_of(lines["last_name"]) == "last name"
    with translation.override("pl"):
        assert field_label_of(lines["last_name"]) == "nazwisko"
    assert ChangeEntry.objects.filter(entity="contact", record_id=contact.pk, kind="created").count() == 1


def test_an_unknown_or_computed_field_is_refused_by_name(owner):
    with pytest.raises(ValidationError) as refused:
        services.create_record(actor=owner, code="contact", values={"last_name": "Nowak", "search_text": "x",
                                                                    "shoe_size": 44})
    assert set(refused.value.message_dict) == {"search_text", "shoe_size"}


def test_deleting_is_soft_and_restorable_and_purge_only_from_the_bin(owner):
    contact = services.create_record(actor=owner, code="contact", values={"last_name": "Kowalczyk"})
    with pytest.raises(ValidationError):
        services.purge_record(actor=owner, record=contact)
    services.delete_record(actor=owner, record=contact)
    assert not selectors.records(owner, "contact").filter(pk=contact.pk).exists()
    assert selectors.recycle_bin(owner, "contact").filter(pk=contact.pk).exists()
    services.restore_record(actor=owner, record=contact)
    assert selectors.records(owner, "contact").filter(pk=contact.pk).exists()
    services.delete_record(actor=owner, record=contact)
    services.purge_record(actor=owner, record=contact)
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert not ChangeEntry.objects.filter(entity="contact", record_id=contact.pk).exists()


def test_the_recycle_bin_is_emptied_after_thirty_days(owner):
    old = services.create_record(actor=owner, code="contact", values={"last_name": "Stary"})
    fresh = services.create_record(actor=owner, code="contact", values={"last_name": "Świeży"})
    services.delete_record(actor=owner, record=old)
    services.delete_record(actor=owner, record=fresh)
    Contact.objects.filter(pk=old.pk).update(deleted_at=timezone.now() - datetime.timedelta(days=31))
    assert services.purge_expired() == 1
    assert list(Contact.objects.filter(pk__in=[old.pk, fresh.pk]).values_list("pk", flat=True)) == [fresh.pk]


def test_custom_fields_are_typed_required_and_defaulted(owner):
    CustomField.objects.create(entity="contact", code="budzet", label="Budżet", field_type=FieldType.MONEY)
    CustomField.objects.create(entity="contact", code="branza", label="Branża", field_type=FieldType.SELECT,
                               options=["IT", "Budownictwo"], required=True)
    CustomField.objects.create(entity="contact", code="newsletter", label="Newsletter",
                               field_type=FieldType.BOOLEAN, default=False)
    contact = services.create_record(actor=owner, code="contact", values={
        "last_name": "Mazur", "custom": {"budzet": "12500.5", "branza": "IT"}})
    assert contact.custom == {"budzet": "12500.50", "branza": "IT", "newsletter": False}
    with pytest.raises(ValidationError) as refused:
        services.create_record(actor=owner, code="contact", values={
            "last_name": "Mazur", "custom": {"budzet": "dużo", "kolor": "zielony"}})
    errors = refused.value.message_dict
    assert set(errors) == {"custom.budzet", "custom.branza", "custom.kolor"}
    assert errors["custom.budzet"][0].startswith("Budżet")
    updated = services.update_record(actor=owner, record=contact, values={"custom": {"budzet": "9000"}})
    assert updated.custom["branza"] == "IT"
    change = ChangeEntry.objects.get(entity="contact", record_id=contact.pk, field="custom.budzet")
    assert (change.field_label, change.old_value, change.new_value) == ("Budżet", "12500.50", "9000.00")


def test_a_deal_starts_in_the_first_stage_of_the_default_pipeline_in_portal_currency(owner):
    deal = services.create_record(actor=owner, code="deal", values={"title": "Wdrożenie CRM", "value": "48000"})
    assert deal.pipeline.is_default
    assert deal.stage == deal.pipeline.stages.order_by("position").first()
    assert deal.probability == deal.stage.probability
    assert deal.currency == "PLN"


def test_a_stage_asks_for_its_required_fields_and_lost_asks_why(owner):
    pipeline = deals.create_pipeline(name="Przetargi")
    offer = pipeline.stages.get(position=2)
    deals.update_stage(stage=offer, required_fields=["expected_close_date", "company"])
    deal = services.create_record(actor=owner, code="deal", values={"title": "Przetarg na serwis",
                                                                    "pipeline": pipeline.pk})
    with pytest.raises(deals.StageRequirementsError) as refused:
        deals.move_deal(actor=owner, deal=deal, stage=offer)
    assert set(refused.value.message_dict) == {"expected_close_date", "company"}
    assert "Offer sent" in refused.value.message_dict["company"][0]
    company = services.create_record(actor=owner, code="company", values={"name": "Miejskie Wodociągi"})
    moved = deals.move_deal(actor=owner, deal=deal, stage=offer,
                            values={"expected_close_date": "2026-12-31", "company": company.pk})
    assert moved.stage == offer and moved.probability == offer.probability
    lost = pipeline.stages.get(kind=StageKind.LOST)
    with pytest.raises(deals.StageRequirementsError) as refused:
        deals.move_deal(actor=owner, deal=moved, stage=lost)
    assert "lost_reason" in refused.value.message_dict
    closed = deals.move_deal(actor=owner, deal=moved, stage=lost, values={"lost_reason": "Cena za wysoka"})
    assert closed.closed_at is not None
    fields = set(ChangeEntry.objects.filter(entity="deal", record_id=deal.pk).values_list("field", flat=True))
    assert {"stage", "lost_reason", "company", "expected_close_date"} <= fields


def test_a_stage_of_another_pipeline_is_refused(owner):
    first, second = deals.create_pipeline(name="Sprzedaż B2B"), deals.create_pipeline(name="Serwis")
    with pytest.raises(ValidationError) as refused:
        services.create_record(actor=owner, code="deal", values={
            "title": "Serwis roczny", "pipeline": first.pk, "stage": second.stages.first().pk})
    assert "stage" in refused.value.message_dict


def test_a_pipeline_limited_to_roles_hides_its_deals_from_others(owner):
    seller = _salesperson({"deal": Scope.ALL})
    managers = Role.objects.create(name="Kierownicy")
    private = deals.create_pipeline(name="Kluczowi klienci", allowed_roles=[managers])
    secret = services.create_record(actor=owner, code="deal", values={"title": "Umowa ramowa",
                                                                      "pipeline": private.pk})
    open_deal = services.create_record(actor=owner, code="deal", values={"title": "Mała umowa"})
    visible = set(selectors.records(seller, "deal").values_list("pk", flat=True))
    assert open_deal.pk in visible and secret.pk not in visible
    with pytest.raises(ValidationError) as refused:
        services.create_record(actor=seller, code="deal", values={"title": "Próba", "pipeline": private.pk})
    assert "pipeline" in refused.value.message_dict
    assert private not in deals.pipelines_for(seller)


def test_own_scope_reaches_only_own_records_and_refuses_others_with_the_right_named(owner):
    seller = _salesperson({"contact": Scope.OWN})
    mine = services.create_record(actor=seller, code="contact", values={"last_name": "Moja"})
    theirs = services.create_record(actor=owner, code="contact", values={"last_name": "Cudza"})
    assert list(selectors.records(seller, "contact").values_list("pk", flat=True)) == [mine.pk]
    with pytest.raises(permissions.NotPermitted):
        services.update_record(actor=seller, record=theirs, values={"last_name": "Przejęta"})
    with pytest.raises(permissions.NotPermitted):
        services.delete_record(actor=seller, record=theirs)
    from django.http import Http404
    with pytest.raises(Http404):
        selectors.record_for(seller, "contact", theirs.pk)


def test_a_task_cannot_complete_before_what_it_depends_on(owner):
    first = services.create_record(actor=owner, code="task", values={"title": "Przygotować ofertę"})
    second = services.create_record(actor=owner, code="task", values={"title": "Wysłać ofertę",
                                                                      "depends_on": [first.pk]})
    with pytest.raises(ValidationError) as refused:
        services.update_record(actor=owner, record=second, values={"status": TaskStatus.COMPLETED})
    assert "Przygotować ofertę" in refused.value.message_dict["status"][0]
    services.update_record(actor=owner, record=first, values={"status": TaskStatus.COMPLETED})
    done = services.update_record(actor=owner, record=second, values={"status": TaskStatus.COMPLETED})
    assert done.completed_at is not None


def test_subtasks_report_progress_and_cannot_form_a_cycle(owner):
    from crm.tasks.services import progress

    parent = services.create_record(actor=owner, code="task", values={"title": "Wdrożenie"})
    children = [services.create_record(actor=owner, code="task", values={"title": f"Etap {n}", "parent": parent.pk})
                for n in range(4)]
    services.update_record(actor=owner, record=children[0], values={"status": TaskStatus.COMPLETED})
    assert progress(Task.objects.get(pk=parent.pk)) == 25
    with pytest.raises(ValidationError) as refused:
        services.update_record(actor=owner, record=parent, values={"parent": children[1].pk})
    assert "parent" in refused.value.message_dict


def test_bulk_writes_are_all_or_nothing_with_errors_per_item(owner):
    with pytest.raises(services.BulkValidationError) as refused:
        services.bulk_create_records(actor=owner, code="company", items=[
            {"name": "Hurtownia Ćma"}, {"name": ""}, {"name": "Piekarnia Żytnia", "nip": "123"}])
    assert set(refused.value.errors) == {1, 2}
    assert not Company.objects.filter(name__in=["Hurtownia Ćma", "Piekarnia Żytnia"]).exists()


def test_deleting_a_source_in_use_asks_for_a_replacement_and_moves_records(owner):
    fairs = dictionaries.create_choice(kind=ChoiceKind.SOURCE, name="Targi Poleko")
    web = dictionaries.create_choice(kind=ChoiceKind.SOURCE, name="Strona firmowa Alfa")
    contact = services.create_record(actor=owner, code="contact", values={"last_name": "Targowa",
                                                                          "source": fairs.pk})
    with pytest.raises(ValidationError) as refused:
        dictionaries.delete_choice(choice=fairs)
    assert "1" in refused.value.message_dict["replacement"][0]
    with pytest.raises(ValidationError):
        dictionaries.create_choice(kind=ChoiceKind.SOURCE, name="targi poleko")
    assert dictionaries.delete_choice(choice=fairs, replacement=web, actor=owner) == 1
    assert Contact.objects.get(pk=contact.pk).source == web
    change = ChangeEntry.objects.get(entity="contact", record_id=contact.pk, field="source")
    assert (change.old_value, change.new_value) == ("Targi Poleko", "Strona firmowa Alfa")


def test_a_record_field_must_point_at_a_value_of_the_right_list(owner):
    industry = dictionaries.create_choice(kind=ChoiceKind.INDUSTRY, name="Budownictwo")
    with pytest.raises(ValidationError) as refused:
        services.create_record(actor=owner, code="contact", values={"last_name": "Zły", "source": industry.pk})
    assert "source" in refused.value.message_dict


def test_activities_and_history_make_one_timeline(owner):
    from crm.activities.selectors import timeline
    from crm.activities.services import add_activity

    deal = services.create_record(actor=owner, code="deal", values={"title": "Serwis klimatyzacji",
                                                                    "value": Decimal("3200")})
    add_activity(actor=owner, entity="deal", record_id=deal.pk, kind="note", body="Klient prosi o rabat.")
    add_activity(actor=owner, entity="deal", record_id=deal.pk, kind="call", subject="Rozmowa o rabacie",
                 starts_at=timezone.now(), direction="outbound")
    with pytest.raises(ValidationError) as refused:
        add_activity(actor=owner, entity="deal", record_id=deal.pk, kind="meeting", subject="Spotkanie")
    assert "starts_at" in refused.value.message_dict
    kinds = [item.kind for item in timeline(owner, "deal", deal.pk)]
    assert kinds.count("activity") == 2 and kinds.count("change") == 1
    assert Deal.objects.get(pk=deal.pk).value == Decimal("3200")


def test_a_stage_requiring_a_custom_field_accepts_it_in_the_same_move(owner):
    CustomField.objects.create(entity="deal", code="numer_oferty", label="Numer oferty", field_type=FieldType.TEXT)
    pipeline = deals.create_pipeline(name="Oferty")
    offer = pipeline.stages.get(position=2)
    deals.update_stage(stage=offer, required_fields=["custom.numer_oferty"])
    deal = services.create_record(actor=owner, code="deal", values={"title": "Oferta na regały",
                                                                    "pipeline": pipeline.pk})
    with pytest.raises(deals.StageRequirementsError) as refused:
        deals.move_deal(actor=owner, deal=deal, stage=offer)
    assert "custom.numer_oferty" in refused.value.message_dict
    moved = deals.move_deal(actor=owner, deal=deal, stage=offer, values={"custom": {"numer_oferty": "OF/2026/17"}})
    assert moved.stage == offer and moved.custom["numer_oferty"] == "OF/2026/17"


def test_deleting_a_stage_moves_its_deals_with_history_and_the_new_probability(owner):
    pipeline = deals.create_pipeline(name="Serwis 2")
    first, second = pipeline.stages.order_by("position")[:2]
    deal = services.create_record(actor=owner, code="deal", values={"title": "Naprawa", "pipeline": pipeline.pk})
    deals.delete_stage(stage=first, move_deals_to=second)
    moved = Deal.objects.get(pk=deal.pk)
    assert moved.stage == second and moved.probability == second.probability
    assert ChangeEntry.objects.filter(entity="deal", record_id=deal.pk, field="stage").exists()
    with pytest.raises(ValidationError) as refused:
        deals.update_stage(stage=second, color="red; background:url(x)")
    assert "color" in refused.value.message_dict
