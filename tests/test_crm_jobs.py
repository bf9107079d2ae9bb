"""The CRM's daily tidy-up runs in every portal's own schema through a real broker and worker.

It lives in tests/ because it uses kompas.testing helpers, which crm/ may not import (layers)."""

from __future__ import annotations

import datetime

import dramatiq
import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from dramatiq import Worker

from crm.contacts.models import Contact
from crm.core import jobs
from kompas.testing.fixtures import in_own_connection

pytestmark = pytest.mark.django_db


def _deleted_contacts(tenant, days_ago: int, name: str) -> int:
    with tenant_context(tenant):
        return Contact.objects.create(last_name=name, deleted_at=timezone.now() - datetime.timedelta(days=days_ago)).pk


def _surviving(tenant, pks: list[int]) -> list[int]:
    with tenant_context(tenant):
        return sorted(Contact.objects.filter(pk__in=pks).values_list("pk", flat=True))


def _forget(tenant, pks: list[int]) -> None:
    with tenant_context(tenant):
        Contact.objects.filter(pk__in=pks).delete()


def test_recycle_bins_of_every_portal_are_emptied_of_records_older_than_thirty_days(portal_a, portal_b):
    broker = dramatiq.get_broker()
    broker.flush(jobs.QUEUE)
    old_a = in_own_connection(_deleted_contacts, portal_a.tenant, 45, "Dawny-A")
    new_a = in_own_connection(_deleted_contacts, portal_a.tenant, 3, "Niedawny-A")
    old_b = in_own_connection(_deleted_contacts, portal_b.tenant, 31, "Dawny-B")
    worker = Worker(broker, queues={jobs.QUEUE}, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        jobs.tidy_every_portal.send()
        broker.join(jobs.QUEUE, timeout=20_000, **({"fail_fast": True} if "Stub" in type(broker).__name__ else {}))
        assert in_own_connection(_surviving, portal_a.tenant, [old_a, new_a]) == [new_a]
        assert in_own_connection(_surviving, portal_b.tenant, [old_b]) == []
    finally:
        worker.stop()
        broker.flush(jobs.QUEUE)
        in_own_connection(_forget, portal_a.tenant, [old_a, new_a])
        in_own_connection(_forget, portal_b.tenant, [old_b])
