"""Repeat leads (seed 000 L2949–2961): a known customer getting in touch again."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from crm.activities.models import Activity
from crm.contacts.models import Contact
from crm.core import services
from crm.deals.models import Deal
from crm.leads.models import Lead
from crm.sales import services as sales
from crm.sales.models import RecurringLead
from crm.sales.tests.helpers import in_portal, lead, open_stages, owner_of

pytestmark = pytest.mark.django_db


def _customer(owner) -> Contact:
    return services.create_record(actor=owner, code="contact", values={
        "first_name": "Marta", "last_name": "Wójcik", "emails": ["marta@wojcik-meble.pl"], "phones": ["512 345 678"]})


def test_a_known_customer_without_an_active_lead_or_deal_gets_a_repeat_lead(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        customer = _customer(owner)
        result = sales.register_interaction(actor=owner, channel="email", summary="Chcę zamówić 20 krzeseł",
                                            contact_data={"email": "MARTA@wojcik-meble.pl"})
        assert result.outcome == "repeat_lead" and result.contact.pk == customer.pk
        repeat = Lead.objects.get(pk=result.record.pk)
        assert repeat.is_repeat and repeat.contact_id == customer.pk and repeat.title == "Chcę zamówić 20 krzeseł"
        # by phone in another spelling, with the repeat lead now active: attached to it as a note
        again = sales.register_interaction(actor=owner, channel="form", summary="Jeszcze pytanie o kolor",
                                           contact_data={"phone": "+48512345678"})
        assert again.outcome == "attached" and again.entity == "lead"
        note = Activity.objects.get(pk=again.record.pk)
        assert (note.entity, note.record_id, note.kind) == ("lead", repeat.pk, "note")
        assert Lead.objects.filter(contact=customer).count() == 1


def test_an_open_deal_takes_the_interaction_as_a_call(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        customer = _customer(owner)
        pipeline, stages = open_stages()
        deal = services.create_record(actor=owner, code="deal", values={
            "title": "Meble do biura", "pipeline": pipeline.pk, "stage": stages[0].pk, "contacts": [customer.pk]})
        leads = Lead.objects.count()
        result = sales.register_interaction(actor=owner, channel="call", contact=customer.pk,
                                            summary="Dzwoniła w sprawie terminu dostawy")
        assert result.outcome == "attached" and result.entity == "deal"
        call = Activity.objects.get(pk=result.record.pk)
        assert (call.entity, call.record_id, call.kind, call.direction) == ("deal", deal.pk, "call", "inbound")
        assert Lead.objects.count() == leads


def test_a_closed_deal_or_converted_lead_does_not_hold_back_a_repeat_lead(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        customer = _customer(owner)
        pipeline = open_stages()[0]
        won = pipeline.stages.get(kind="won")
        services.create_record(actor=owner, code="deal", values={
            "title": "Stare zamówienie", "pipeline": pipeline.pk, "stage": won.pk, "contacts": [customer.pk]})
        old = lead(owner, contact=customer.pk)
        sales.convert_lead(actor=owner, lead=old, contact=customer.pk, company=None, deal=None)
        result = sales.register_interaction(actor=owner, channel="api", contact=customer.pk, summary="Nowe zamówienie")
        assert result.outcome == "repeat_lead"


def test_an_unknown_person_becomes_a_normal_new_lead(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        result = sales.register_interaction(actor=owner, channel="form", summary="Proszę o ofertę",
                                            contact_data={"first_name": "Jan", "last_name": "Nowy",
                                                          "email": "jan@nowy.pl", "company_name": "Nowy i S-ka"})
        assert result.outcome == "new_lead" and result.contact is None
        created = Lead.objects.get(pk=result.record.pk)
        assert not created.is_repeat and created.contact_id is None and created.emails[0]["value"] == "jan@nowy.pl"
        with pytest.raises(ValidationError):
            sales.register_interaction(actor=owner, channel="gołąb", summary="?")


def test_a_repeat_lead_converts_only_to_a_deal_for_its_contact(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        customer = _customer(owner)
        repeat = sales.register_interaction(actor=owner, channel="email", contact=customer.pk,
                                            summary="Ponowne zamówienie").record
        contacts = Contact.objects.count()
        for contact, company in (("new", None), (None, "new")):
            with pytest.raises(ValidationError):
                sales.convert_lead(actor=owner, lead=repeat, contact=contact, company=company, deal="new")
        result = sales.convert_lead(actor=owner, lead=repeat, contact=None, company=None, deal="new")
        assert Contact.objects.count() == contacts and result.contact.pk == customer.pk
        assert list(Deal.objects.get(pk=result.deal.pk).contacts.all()) == [customer]


def test_recurring_leads_are_opened_when_due_and_scheduled_again(portal_a):
    with in_portal(portal_a):
        owner = owner_of(portal_a)
        customer = _customer(owner)
        today = datetime.date(2026, 1, 31)
        item = sales.create_recurring_lead(actor=owner, values={
            "contact_id": customer.pk, "title_template": "Zamówienie miesięczne {date}", "frequency": "monthly",
            "next_run": today})
        assert sales.create_due_recurring_leads(today=today - datetime.timedelta(days=1)) == 0
        assert sales.create_due_recurring_leads(today=today) == 1
        created = Lead.objects.get(title="Zamówienie miesięczne 2026-01-31")
        assert created.is_repeat and created.contact_id == customer.pk and created.owner_id == owner.pk
        item.refresh_from_db()
        assert item.next_run == datetime.date(2026, 2, 28)
        assert sales.create_due_recurring_leads(today=today) == 0
        assert sales.next_date(datetime.date(2026, 2, 28), "weekly") == datetime.date(2026, 3, 7)
        with pytest.raises(ValidationError):
            sales.create_recurring_lead(actor=owner, values={"title_template": "x", "frequency": "daily",
                                                             "next_run": today})
        assert RecurringLead.objects.count() == 1
