"""The CRM's housekeeping: emptying recycle bins after 30 days and forgetting old idempotency keys.

The scheduler enqueues one control-plane job a day; it fans out one job per portal, so each runs
in its own schema (tenants.job_context stamps the schema on the message) and one slow portal
does not hold up the others.
"""

from __future__ import annotations

import dramatiq
import structlog
from django_tenants.utils import tenant_context

from crm.core import full_export, services
from tenants import audit
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


@dramatiq.actor(queue_name=QUEUE, max_retries=2, time_limit=60 * 60_000)
def export_portal(requested_by: int, download_base: str) -> None:
    """The portal's full export (crm.core.full_export), e-mailed as a link to the administrator who asked."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    name = full_export.write_full_export()
    user = get_user_model().objects.filter(pk=requested_by).first()
    audit.record(action="portal.export_created", tenant=connection.tenant, actor=user, file=name)
    if user is not None:
        full_export.send_ready_mail(email=user.email, link=f"{download_base}{name}")
    log.info("crm.portal_exported", file=name)


PERIODIC_JOBS = [(tidy_every_portal, "40 3 * * *")]
