"""Merging: chosen values, every relation re-pointed, the others in the recycle bin, the merge in the history."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.activities.models import Activity
from crm.activities.services import add_activity
from crm.contacts.models import Company, Contact
from crm.core import selectors, services
from crm.core.custom_fields import create_custom_field
from crm.core.models import ChangeEntry
from crm.deals.models import Deal
from crm.duplicates.services import merge_records
from crm.duplicates.tests.helpers import admin_of, create, member_client
from crm.leads.models import Lead
from crm.tasks.models import TaskLink
from crm.tasks.services import link_task
from identity.members import permissions

pytestmark = pytest.mark.django_db


def test_merging_two_contacts_loses_nothing(portal_a):
    admin = admin_of(portal_a)
    with tenant_context(portal_a.tenant):
        create_custom_field(entity="contact", code="nr_klienta", label="Numer klienta", field_type="text")
    company = create(portal_a, "company", {"name": "Żółkiewski i Synowie sp.j.", "nip": "5260001246"})
    keep = create(portal_a, "contact", {"first_name": "Łukasz", "last_name": "Żółkiewski",
                                        "emails": ["lukasz@zolkiewski.pl"], "tags": ["vip"], "city": "Kraków"})
    other = create(portal_a, "contact", {"first_name": "Lukasz", "last_name": "Zolkiewski", "company": company.pk,
                                         "emails": ["l.zolkiewski@gmail.com"], "phones": ["601 202 303"],
                                         "tags": ["targi"], "position": "Prezes",
                                         "custom": {"nr_klienta": "K-17"}})
    with tenant_context(portal_a.tenant):
        services.update_record(actor=admin, record=other, values={"position": "Prezes zarządu"})
        only_other = services.create_record(actor=admin, code="deal", values={"title": "Serwis floty",
                                                                               "contacts": [other.pk]})
        shared = services.create_record(actor=admin, code="deal", values={"title": "Leasing aut",
                                                                           "contacts": [keep.pk, other.pk]})
        lead = services.create_record(actor=admin, code="lead", values={"title": "Zapytanie", "contact": other.pk})
        task = services.create_record(actor=admin, code="task", values={"title": "Oddzwonić"})
        link_task(actor=admin, task=task, entity="contact", record_id=other.pk)
        both = services.create_record(actor=admin, code="task", values={"title": "Wysłać ofertę"})
        link_task(actor=admin, task=both, entity="contact", record_id=other.pk)
        link_task(actor=admin, task=both, entity="contact", record_id=keep.pk)
        call = add_activity(actor=admin, entity="contact", record_id=other.pk, kind="call", subject="Rozmowa wstępna",
                            starts_at=timezone.now())
        other_history = set(ChangeEntry.objects.filter(entity="contact", record_id=other.pk)
                            .values_list("pk", flat=True))

        kept = merge_records(actor=admin, code="contact", keep=keep.pk, others=[other.pk], choices={
            "company": other.pk, "emails": "combine", "phones": other.pk, "tags": "combine",
            "position": other.pk, "city": keep.pk, "custom.nr_klienta": other.pk})

        assert kept.pk == keep.pk
        assert (kept.first_name, kept.last_name, kept.city, kept.position) == ("Łukasz", "Żółkiewski", "Kraków",
                                                                               "Prezes zarządu")
        assert kept.company_id == company.pk
        assert [item["value"] for item in kept.emails] == ["lukasz@zolkiewski.pl", "l.zolkiewski@gmail.com"]
        assert [item["value"] for item in kept.phones] == ["+48601202303"]
        assert kept.tags == ["vip", "targi"]
        assert kept.custom == {"nr_klienta": "K-17"}
        # Relations: deals (many-to-many, one linked to both), the lead, tasks, the call, the history.
        assert list(Deal.objects.get(pk=only_other.pk).contacts.values_list("pk", flat=True)) == [keep.pk]
        assert list(Deal.objects.get(pk=shared.pk).contacts.values_list("pk", flat=True)) == [keep.pk]
        assert Lead.objects.get(pk=lead.pk).contact_id == keep.pk
        # The records whose link moved say so in their own history.
        moved_link = ChangeEntry.objects.get(entity="lead", record_id=lead.pk, field="contact", kind="updated")
        assert (moved_link.old_value, moved_link.new_value) == ("Lukasz Zolkiewski", "Łukasz Żółkiewski")
        assert ChangeEntry.objects.filter(entity="deal", record_id=only_other.pk, field="contacts").exists()
        assert set(TaskLink.objects.filter(entity="contact", record_id=keep.pk).values_list("task_id", flat=True)) \
            == {task.pk, both.pk}
        assert not TaskLink.objects.filter(entity="contact", record_id=other.pk).exists()
        assert Activity.objects.get(pk=call.pk).record_id == keep.pk
        moved = set(ChangeEntry.objects.filter(entity="contact", record_id=keep.pk).values_list("pk", flat=True))
        assert other_history <= moved
        # The merged-away contact is in the recycle bin, its history says where it went.
        gone = Contact.objects.get(pk=other.pk)
        assert gone.deleted_at is not None
        assert other.pk in {record.pk for record in selectors.recycle_bin(admin, "contact")}
        assert set(ChangeEntry.objects.filter(entity="contact", record_id=other.pk).values_list("kind", flat=True)) \
            == {"deleted", "merged"}
        merged = ChangeEntry.objects.get(entity="contact", record_id=keep.pk, kind="merged")
        assert f"#{other.pk}" in merged.new_value and "Lukasz Zolkiewski" in merged.new_value
        assert ChangeEntry.objects.filter(entity="contact", record_id=keep.pk, field="company").exists()
        assert ChangeEntry.objects.filter(entity="contact", record_id=keep.pk, field="custom.nr_klienta").exists()


def test_merging_companies_moves_their_people_deals_and_leads(portal_a):
    keep = create(portal_a, "company", {"name": "Piekarnia Żytnia", "nip": "5260001246"})
    other = create(portal_a, "company", {"name": "Piekarnia Zytnia sp. z o.o.", "city": "Łódź"})
    person = create(portal_a, "contact", {"first_name": "Ewa", "last_name": "Mąka", "company": other.pk})
    deal = create(portal_a, "deal", {"title": "Piec", "company": other.pk})
    lead = create(portal_a, "lead", {"title": "Chleb", "company": other.pk})
    with tenant_context(portal_a.tenant):
        merge_records(actor=admin_of(portal_a), code="company", keep=keep, others=[other], choices={"city": other.pk})
        assert Company.objects.get(pk=keep.pk).city == "Łódź"
        assert Contact.objects.get(pk=person.pk).company_id == keep.pk
        assert Deal.objects.get(pk=deal.pk).company_id == keep.pk
        assert Lead.objects.get(pk=lead.pk).company_id == keep.pk


def test_merging_deals_and_leads(portal_a):
    first = create(portal_a, "deal", {"title": "Wdrożenie CRM", "value": "48000"})
    second = create(portal_a, "deal", {"title": "Wdrozenie CRM", "value": "52000"})
    lead_a = create(portal_a, "lead", {"title": "Strona", "first_name": "Ola"})
    lead_b = create(portal_a, "lead", {"title": "Telefon", "first_name": "Ola", "emails": ["ola@example.pl"]})
    with tenant_context(portal_a.tenant):
        admin = admin_of(portal_a)
        kept = merge_records(actor=admin, code="deal", keep=first.pk, others=[second.pk], choices={"value": second.pk})
        assert str(kept.value) == "52000.00"
        kept_lead = merge_records(actor=admin, code="lead", keep=lead_a.pk, others=[lead_b.pk],
                                  choices={"emails": "combine"})
        assert [item["value"] for item in kept_lead.emails] == ["ola@example.pl"]
        assert Lead.objects.get(pk=lead_b.pk).deleted_at is not None


def test_a_merge_needs_edit_on_the_kept_record_and_delete_on_the_others(portal_a):
    _client, consultant = member_client(portal_a, "konsultant.scalanie@alfa-handel.pl", "consultant")
    with tenant_context(portal_a.tenant):
        consultant = type(consultant).objects.get(pk=consultant.pk)
    mine = create(portal_a, "contact", {"first_name": "Jan", "last_name": "Nowak"}, actor=consultant)
    also_mine = create(portal_a, "contact", {"first_name": "Jan", "last_name": "Nowak"}, actor=consultant)
    admins = create(portal_a, "contact", {"first_name": "Jan", "last_name": "Nowak"})
    with tenant_context(portal_a.tenant):
        # A consultant may not delete at all, nor edit the administrator's contact.
        with pytest.raises(permissions.NotPermitted):
            merge_records(actor=consultant, code="contact", keep=mine.pk, others=[also_mine.pk])
        with pytest.raises(permissions.NotPermitted):
            merge_records(actor=consultant, code="contact", keep=admins.pk, others=[mine.pk])
        assert Contact.objects.alive().filter(pk__in=[mine.pk, also_mine.pk, admins.pk]).count() == 3
        assert not ChangeEntry.objects.filter(kind="merged").exists()


def test_a_merge_refuses_nonsense(portal_a):
    one = create(portal_a, "contact", {"first_name": "Adam"})
    two = create(portal_a, "contact", {"first_name": "Adam"})
    with tenant_context(portal_a.tenant):
        admin = admin_of(portal_a)
        for keep, others, choices in [(one.pk, [], {}), (one.pk, [one.pk], {}), (one.pk, [two.pk], {"nope": one.pk}),
                                      (one.pk, [two.pk], {"first_name": 999999}), (one.pk, [999999], {})]:
            with pytest.raises(ValidationError):
                merge_records(actor=admin, code="contact", keep=keep, others=others, choices=choices)
        assert Contact.objects.alive().filter(pk__in=[one.pk, two.pk]).count() == 2
