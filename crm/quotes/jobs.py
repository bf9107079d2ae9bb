"""Daily: quotes past their validity become expired, in every portal (one job per portal)."""

from __future__ import annotations

import dramatiq
import structlog
from django_tenants.utils import tenant_context

from crm.quotes import services
from tenants.selectors import portals

QUEUE = "crm"
log = structlog.get_logger(__name__)


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=10 * 60_000)
def expire_quotes() -> None:
    log.info("quotes.expired", count=services.expire_overdue())


@dramatiq.actor(control_plane=True, queue_name=QUEUE, max_retries=3)
def expire_quotes_everywhere() -> None:
    for tenant in portals():
        with tenant_context(tenant):
            expire_quotes.send()


PERIODIC_JOBS = [(expire_quotes_everywhere, "15 2 * * *")]
