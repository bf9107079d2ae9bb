"""Invoicing every morning: reminders for unpaid invoices (marking them overdue) and recurring
invoices coming due. The scheduler enqueues one control-plane job; it fans out one job per portal so
each runs in its own schema (like crm.core.jobs)."""

from __future__ import annotations

import dramatiq
import structlog
from django_tenants.utils import tenant_context

from crm.invoices import services
from tenants.selectors import portals

QUEUE = "crm"
log = structlog.get_logger(__name__)


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=30 * 60_000)
def invoices_of_portal() -> None:
    issued = services.issue_recurring()
    reminded = services.send_reminders()
    log.info("crm.invoices", recurring_issued=len(issued), reminders_sent=reminded)


@dramatiq.actor(control_plane=True, queue_name=QUEUE, max_retries=3)
def invoices_of_every_portal() -> None:
    for tenant in portals():
        with tenant_context(tenant):
            invoices_of_portal.send()


PERIODIC_JOBS = [(invoices_of_every_portal, "15 7 * * *")]
