"""Sales-flow jobs: recurring leads opened when due, and the automatic conversion rule.

Like crm/core/jobs.py, the scheduler enqueues one control-plane job that fans out one job per
portal, so each runs in its own schema and one slow portal does not hold up the others.
"""

from __future__ import annotations

import datetime

import dramatiq
import structlog
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.sales import services
from tenants.selectors import portals

QUEUE = "crm"
AUTO_CONVERT_WINDOW = datetime.timedelta(hours=1)
log = structlog.get_logger(__name__)


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=30 * 60_000)
def recurring_leads_of_portal() -> None:
    created = services.create_due_recurring_leads()
    log.info("sales.recurring_leads", created=created)


@dramatiq.actor(control_plane=True, queue_name=QUEUE, max_retries=3)
def recurring_leads_of_every_portal() -> None:
    for tenant in portals():
        with tenant_context(tenant):
            recurring_leads_of_portal.send()


@dramatiq.actor(queue_name=QUEUE, max_retries=1, time_limit=10 * 60_000)
def auto_convert_portal() -> None:
    converted = services.auto_convert_recent(since=timezone.now() - AUTO_CONVERT_WINDOW)
    log.info("sales.auto_converted", converted=converted)


@dramatiq.actor(control_plane=True, queue_name=QUEUE, max_retries=1)
def auto_convert_every_portal() -> None:
    for tenant in portals():
        with tenant_context(tenant):
            auto_convert_portal.send()


PERIODIC_JOBS = [(recurring_leads_of_every_portal, "5 * * * *"), (auto_convert_every_portal, "*/10 * * * *")]
