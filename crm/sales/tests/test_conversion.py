"""Lead conversion: three new records linked together, or existing ones chosen instead of
duplicates; the lead is marked converted and keeps its history; refusals."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from crm.contacts.models import Company, Contact
from crm.core import services
from crm.core.models import ChangeEntry
from crm.deals.models import Deal
from crm.leads.models import Lead, LeadStatus
from crm.sales import services as sales
from crm.sales.tests.helpers import in_portal, lead, member, open_stages, owner_of
from identity.members.permissions import NotPermitted

pytestmark = pytest.mark.django_db


def test_a_lead_without_matches_becomes_a_contact_a_company_and_a_deal_linked_together(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        item = lead(owner)
        services.update_record(actor=owner, record=item, values={"status": "in_progress"})
        matches = sales.conversion_matches(item, actor=owner)
        assert matches.contacts == [] and matches.companies == []
        result = sales.convert_lead(actor=owner, lead=item, contact="new", company="new", deal="new")

        contact, company, deal = result.contact, result.company, result.deal
        assert (contact.first_name, contact.last_name, contact.position) == ("Łukasz", "Żółtowski", "Właściciel")
        assert contact.emails[0]["value"] == "lukasz@zlotyklos.pl" and contact.phones[0]["value"] == "+48600100200"
        assert contact.company_id == company.pk and company.name == "Piekarnia Złoty Kłos"
        deal.refresh_from_db()
        assert deal.title == "Zapytanie o system kasowy" and str(deal.value) == "24000.00" and deal.currency == "PLN"
        assert deal.lead_id == item.pk and deal.company_id == company.pk
        assert list(deal.contacts.values_list("pk", flat=True)) == [contact.pk]

        item.refresh_from_db()
        assert item.status == "converted" and item.converted_at is not None
        assert (item.contact_id, item.company_id) == (contact.pk, company.pk)
        lead_history = list(ChangeEntry.objects.filter(entity="lead", record_id=item.pk).order_by("at", "id"))
        kinds = [entry.kind for entry in lead_history]
        assert kinds[0] == "created" and kinds[-1] == "converted"
        status_line = next(entry for entry in lead_history if entry.field == "status" and entry.kind == "updated"
                           and entry.new_value == str(LeadStatus.CONVERTED.label))
        assert status_line.old_value == str(LeadStatus.IN_PROGRESS.label)
        assert "Piekarnia Złoty Kłos" in lead_history[-1].new_value
        for code, record in (("contact", contact), ("company", company), ("deal", deal)):
            assert ChangeEntry.objects.filter(entity=code, record_id=record.pk, kind="created").exists()
        assert ChangeEntry.objects.filter(entity="deal", record_id=deal.pk, field="lead").exists()


def test_with_matches_the_existing_contact_and_company_are_used_and_nothing_is_duplicated(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        company = services.create_record(actor=owner, code="company", values={
            "name": "Piekarnia Złoty Kłos sp. z o.o.", "nip": "5213017228"})
        contact = services.create_record(actor=owner, code="contact", values={
            "first_name": "Łukasz", "last_name": "Żółtowski", "emails": ["Lukasz@ZlotyKlos.pl"]})
        other = services.create_record(actor=owner, code="contact", values={
            "last_name": "Kowalski", "phones": ["+48 600 100 200"]})
        item = lead(owner)
        matches = sales.conversion_matches(item, actor=owner)
        assert {m.record.pk for m in matches.contacts} == {contact.pk, other.pk}
        by_pk = {m.record.pk: m for m in matches.contacts}
        assert "same e-mail" in by_pk[contact.pk].reasons and "same phone" in by_pk[other.pk].reasons
        assert [m.record.pk for m in matches.companies] == [company.pk]
        assert "similar name" in matches.companies[0].reasons

        counts = (Contact.objects.count(), Company.objects.count())
        result = sales.convert_lead(actor=owner, lead=item, contact=contact.pk, company=company.pk, deal="new")
        assert (Contact.objects.count(), Company.objects.count()) == counts
        assert result.contact.pk == contact.pk and result.company.pk == company.pk
        contact.refresh_from_db()
        assert contact.company_id == company.pk  # linked through the service, with a history line
        assert ChangeEntry.objects.filter(entity="contact", record_id=contact.pk, field="company").exists()
        assert result.deal.company_id == company.pk and list(result.deal.contacts.all()) == [contact]


def test_a_company_matches_by_nip_from_the_lead(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        company = services.create_record(actor=owner, code="company", values={"name": "ZPHU Rolmex",
                                                                              "nip": "5213017228"})
        item = lead(owner, company_name="Rolnik", emails=[], phones=[])
        Lead.objects.filter(pk=item.pk).update(custom={"nip": "521-301-72-28"})
        item.refresh_from_db()
        matches = sales.conversion_matches(item, actor=owner)
        assert [m.record.pk for m in matches.companies] == [company.pk] and "same NIP" in matches.companies[0].reasons


def test_a_converted_lead_cannot_be_converted_again(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        item = lead(owner)
        sales.convert_lead(actor=owner, lead=item, contact="new", company=None, deal=None)
        deals = Deal.objects.count()
        with pytest.raises(sales.AlreadyConverted):
            sales.convert_lead(actor=owner, lead=item, contact=None, company=None, deal="new")
        assert Deal.objects.count() == deals


def test_conversion_is_refused_without_the_rights_and_leaves_nothing_behind(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        item = lead(owner)
        guest = member(portal_a, "gosc@alfa.pl", "consultant", "Gość Konsultant")
        counts = (Contact.objects.count(), Company.objects.count(), Deal.objects.count())
        with pytest.raises(NotPermitted):  # a consultant edits only their own leads
            sales.convert_lead(actor=guest, lead=item, contact="new", company="new", deal="new")
        mine = lead(guest, title="Mój lead")
        # consultants may create contacts, companies and deals of their own: this works
        sales.convert_lead(actor=guest, lead=mine, contact="new", company="new", deal="new")
        no_access = member(portal_a, "brak@alfa.pl", "guest", "Tylko Podgląd")
        theirs = lead(owner, title="Cudzy lead")
        with pytest.raises(NotPermitted):
            sales.convert_lead(actor=no_access, lead=theirs, contact="new", company="new", deal="new")
        theirs.refresh_from_db()
        assert theirs.status == "new"
        assert Contact.objects.count() == counts[0] + 1 and Deal.objects.count() == counts[2] + 1


def test_a_deal_in_a_chosen_stage_with_given_values(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        pipeline, stages = open_stages()
        item = lead(owner)
        result = sales.convert_lead(actor=owner, lead=item, contact=None, company=None, deal={
            "title": "Kasy dla 3 sklepów", "value": "31000", "currency": "EUR", "pipeline": pipeline.pk,
            "stage": stages[1].pk})
        deal = result.deal
        assert (deal.title, str(deal.value), deal.currency, deal.stage_id) == (
            "Kasy dla 3 sklepów", "31000", "EUR", stages[1].pk)
        with pytest.raises(ValidationError):
            sales.convert_lead(actor=owner, lead=lead(owner), contact=None, company=None, deal=None)


def test_the_field_mapping_is_configurable_with_custom_fields(portal_a):
    from crm.core.custom_fields import create_custom_field

    with in_portal(portal_a):
        owner = owner_of(portal_a)
        create_custom_field(entity="contact", code="stanowisko_w_firmie", label="Stanowisko w firmie",
                            field_type="text")
        code = next(name for name, _label in sales.field_choices("contact") if name.startswith("custom."))
        sales.set_mapping([("last_name", "contact", "last_name"), ("position", "contact", code),
                           ("company_name", "company", "name")])
        result = sales.convert_lead(actor=owner, lead=lead(owner), contact="new", company="new", deal=None)
        assert result.contact.first_name == "" and result.contact.position == ""
        assert result.contact.custom[code.removeprefix("custom.")] == "Właściciel"
        with pytest.raises(ValidationError):
            sales.set_mapping([("nonsense", "contact", "last_name")])
        sales.set_mapping([])
        assert sales.mapping() == sales.DEFAULT_MAPPING


def test_the_automatic_rule_converts_an_in_progress_lead_with_a_company_name(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        existing = services.create_record(actor=owner, code="contact", values={
            "last_name": "Żółtowski", "emails": ["lukasz@zlotyklos.pl"]})
        item = lead(owner)
        assert sales.maybe_auto_convert(actor=owner, lead=item) is None  # the rule is off
        sales.save_conversion_settings(auto_convert=True, condition="in_progress_with_company")
        assert sales.maybe_auto_convert(actor=owner, lead=item) is None  # still new
        item = services.update_record(actor=owner, record=item, values={"status": "in_progress"})
        result = sales.maybe_auto_convert(actor=owner, lead=item)
        assert result is not None and result.contact.pk == existing.pk and result.deal is not None
        no_company = services.update_record(actor=owner, record=lead(owner, company_name="", emails=[]),
                                            values={"status": "in_progress"})
        assert sales.maybe_auto_convert(actor=owner, lead=no_company) is None
