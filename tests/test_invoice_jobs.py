"""The daily invoicing job through a real broker and worker, in every portal's own schema: an unpaid
invoice past its due date is marked overdue and reminded once per step; a recurring invoice comes due
and is issued. Lives in tests/ because it uses kompas.testing helpers (crm/ may not)."""

from __future__ import annotations

import datetime

import dramatiq
import pytest
from django.core import mail
from django_tenants.utils import tenant_context
from dramatiq import Worker

from crm.core.models import ChangeEntry
from crm.invoices import jobs, services
from crm.invoices.models import Invoice, InvoiceReminder, InvoiceSettings, RecurringInvoice
from identity.members.models import Membership
from kompas.testing.fixtures import in_own_connection

pytestmark = pytest.mark.django_db


def _setup(tenant, name: str) -> dict:
    with tenant_context(tenant):
        admin = Membership.objects.filter(is_active=True).order_by("pk").first()
        InvoiceSettings.objects.update(reminder_days=[3, 10])
        today = services.portal_today()
        late = services.create_invoice(actor=admin, values={"buyer_name": f"{name} — Źródło",
                                                            "buyer_email": f"ksiegowosc@{name}.pl",
                                                            "payment_term_days": 0},
                                       lines=[{"name": "Usługa", "unit_price": "100"}])
        late = services.issue_invoice(actor=admin, invoice=late, issue_date=today - datetime.timedelta(days=4))
        template = services.create_invoice(actor=admin, values={"buyer_name": f"{name} abonament"},
                                           lines=[{"name": "Abonament", "unit_price": "49"}])
        plan = services.make_recurring(actor=admin, invoice=template, frequency="monthly", next_issue_date=today,
                                       send_email=False)
        return {"late": late.pk, "template": template.pk, "plan": plan.pk}


def _state(tenant, ids: dict) -> dict:
    with tenant_context(tenant):
        plan = RecurringInvoice.objects.get(pk=ids["plan"])
        return {"status": Invoice.objects.get(pk=ids["late"]).status,
                "reminders": sorted(InvoiceReminder.objects.filter(invoice_id=ids["late"])
                                    .values_list("days_after_due", flat=True)),
                "recurring": plan.last_issued.number if plan.last_issued else "",
                "next": plan.next_issue_date, "today": services.portal_today()}


def _forget(tenant, ids: dict) -> None:
    with tenant_context(tenant):
        plan = RecurringInvoice.objects.get(pk=ids["plan"])
        made = [ids["late"], ids["template"]] + ([plan.last_issued_id] if plan.last_issued_id else [])
        plan.delete()
        Invoice.objects.filter(pk__in=made).delete()
        ChangeEntry.objects.filter(entity="invoice", record_id__in=made).delete()
        from crm.invoices.models import NumberingSeries

        NumberingSeries.objects.filter(kind="vat").update(period="", next_number=1)


def _run_job(broker) -> None:
    worker = Worker(broker, queues={jobs.QUEUE}, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        jobs.invoices_of_every_portal.send()
        broker.join(jobs.QUEUE, timeout=30_000, **({"fail_fast": True} if "Stub" in type(broker).__name__ else {}))
    finally:
        worker.stop()


def test_reminders_once_per_step_and_recurring_invoices_in_every_portal(portal_a, portal_b, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    broker = dramatiq.get_broker()
    broker.flush(jobs.QUEUE)
    a = in_own_connection(_setup, portal_a.tenant, "alfa")
    b = in_own_connection(_setup, portal_b.tenant, "beta")
    try:
        _run_job(broker)
        for tenant, ids in ((portal_a.tenant, a), (portal_b.tenant, b)):
            state = in_own_connection(_state, tenant, ids)
            assert state["status"] == "overdue" and state["reminders"] == [3]
            assert state["recurring"].startswith("FV/") and state["next"] > state["today"]
        reminded = sorted(message.to[0] for message in mail.outbox)
        assert reminded == ["ksiegowosc@alfa.pl", "ksiegowosc@beta.pl"]
        assert all(message.attachments for message in mail.outbox)
        _run_job(broker)  # the same day again: nothing new
        assert len(mail.outbox) == 2
        assert in_own_connection(_state, portal_a.tenant, a)["reminders"] == [3]
    finally:
        broker.flush(jobs.QUEUE)
        in_own_connection(_forget, portal_a.tenant, a)
        in_own_connection(_forget, portal_b.tenant, b)
