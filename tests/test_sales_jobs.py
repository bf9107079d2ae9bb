"""Recurring leads and the automatic conversion rule run in every portal's own schema through a
real broker and worker (in tests/ because it uses kompas.testing helpers; crm/ may not)."""

from __future__ import annotations

import datetime

import dramatiq
import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from dramatiq import Worker

from crm.contacts.models import Contact
from crm.core import services as records
from crm.core.models import ChangeEntry
from crm.leads.models import Lead
from crm.sales import jobs, services
from crm.sales.models import ConversionSettings, RecurringLead
from identity.members.models import Membership
from kompas.testing.fixtures import in_own_connection

pytestmark = pytest.mark.django_db


def _due(tenant, owner_user, title: str, days_ago: int) -> tuple[int, int]:
    with tenant_context(tenant):
        owner = Membership.objects.get(user=owner_user)
        contact = records.create_record(actor=owner, code="contact", values={"last_name": f"Klient {title}"})
        item = services.create_recurring_lead(actor=owner, values={
            "contact_id": contact.pk, "title_template": f"{title} {{date}}", "frequency": "monthly",
            "next_run": timezone.localdate() - datetime.timedelta(days=days_ago)})
        return item.pk, contact.pk


def _leads_of(tenant, contact_pk: int) -> list[tuple[bool, int | None]]:
    with tenant_context(tenant):
        return list(Lead.objects.filter(contact_id=contact_pk).values_list("is_repeat", "contact_id"))


def _next_run(tenant, pk: int) -> datetime.date:
    with tenant_context(tenant):
        return RecurringLead.objects.get(pk=pk).next_run


def _forget(tenant, item_pk: int, contact_pk: int) -> None:
    with tenant_context(tenant):
        leads = list(Lead.objects.filter(contact_id=contact_pk).values_list("pk", flat=True))
        ChangeEntry.objects.filter(entity="lead", record_id__in=leads).delete()
        ChangeEntry.objects.filter(entity="contact", record_id=contact_pk).delete()
        Lead.objects.filter(pk__in=leads).delete()
        RecurringLead.objects.filter(pk=item_pk).delete()
        Contact.objects.filter(pk=contact_pk).delete()


def _run(job) -> Worker:
    broker = dramatiq.get_broker()
    broker.flush(jobs.QUEUE)
    worker = Worker(broker, queues={jobs.QUEUE}, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        job.send()
        broker.join(jobs.QUEUE, timeout=20_000, **({"fail_fast": True} if "Stub" in type(broker).__name__ else {}))
    finally:
        worker.stop()
        broker.flush(jobs.QUEUE)


def test_recurring_leads_of_every_portal_are_opened_when_due(portal_a, portal_b):
    item_a, contact_a = in_own_connection(_due, portal_a.tenant, portal_a.owner, "Kawa", 0)
    item_b, contact_b = in_own_connection(_due, portal_b.tenant, portal_b.owner, "Herbata", 3)
    try:
        _run(jobs.recurring_leads_of_every_portal)
        assert in_own_connection(_leads_of, portal_a.tenant, contact_a) == [(True, contact_a)]
        assert in_own_connection(_leads_of, portal_b.tenant, contact_b) == [(True, contact_b)]
        assert in_own_connection(_next_run, portal_a.tenant, item_a) > timezone.localdate()
        assert in_own_connection(_next_run, portal_b.tenant, item_b) > timezone.localdate()
    finally:
        in_own_connection(_forget, portal_a.tenant, item_a, contact_a)
        in_own_connection(_forget, portal_b.tenant, item_b, contact_b)


def _in_progress_lead(tenant, owner_user) -> int:
    with tenant_context(tenant):
        owner = Membership.objects.get(user=owner_user)
        ConversionSettings.objects.all().delete()
        services.save_conversion_settings(auto_convert=True, condition="in_progress_with_company")
        lead = records.create_record(actor=owner, code="lead", values={
            "title": "Automat", "last_name": "Automatyczny", "company_name": "Auto Sp. z o.o.",
            "status": "in_progress"})
        return lead.pk


def _state_and_cleanup(tenant, lead_pk: int) -> str:
    from crm.contacts.models import Company
    from crm.deals.models import Deal

    with tenant_context(tenant):
        lead = Lead.objects.get(pk=lead_pk)
        status = lead.status
        deals = list(Deal.objects.filter(lead_id=lead_pk).values_list("pk", flat=True))
        for code, pks in (("deal", deals), ("lead", [lead_pk]), ("contact", [lead.contact_id]),
                          ("company", [lead.company_id])):
            ChangeEntry.objects.filter(entity=code, record_id__in=[pk for pk in pks if pk]).delete()
        Deal.objects.filter(pk__in=deals).delete()
        Lead.objects.filter(pk=lead_pk).delete()
        Contact.objects.filter(pk=lead.contact_id).delete()
        Company.objects.filter(pk=lead.company_id).delete()
        ConversionSettings.objects.all().delete()
        return status


def test_the_automatic_conversion_rule_is_applied_by_the_periodic_job(portal_a):
    lead_pk = in_own_connection(_in_progress_lead, portal_a.tenant, portal_a.owner)
    try:
        _run(jobs.auto_convert_every_portal)
    finally:
        status = in_own_connection(_state_and_cleanup, portal_a.tenant, lead_pk)
    assert status == "converted"
