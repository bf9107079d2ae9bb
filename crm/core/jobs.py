"""The CRM's housekeeping: emptying recycle bins after 30 days and forgetting old idempotency keys.

The scheduler enqueues one control-plane job a day; it fans out one job per portal, so each runs
in its own schema (tenants.job_context stamps the schema on the message) and one slow portal
does not hold up the others.
"""

from __future__ import annotations

import dramatiq
import structlog
from django_tenants.utils import tenant_context

from crm.core import services
from tenants.selectors import portals

QUEUE = "crm"
log = structlog.get_logger(__name__)


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=30 * 60_000)
def tidy_portal() -> None:
    purged = services.purge_expired()
    forgotten = services.forget_old_idempotency_keys()
    log.info("crm.tidied", purged=purged, idempotency_keys=forgotten)


@dramatiq.actor(control_plane=True, queue_name=QUEUE, max_retries=3)
def tidy_every_portal() -> None:
    for tenant in portals():
        with tenant_context(tenant):
            tidy_portal.send()


PERIODIC_JOBS = [(tidy_every_portal, "40 3 * * *")]
