"""Jobs run in the portal that enqueued them and never leak a schema into the next message.

Runs on the broker the settings configure: Redis when REDIS_URL is set, the stub broker
otherwise; the worker has a single thread so consecutive messages share one connection.
"""

from __future__ import annotations

import threading
import uuid

import dramatiq
import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from dramatiq import Worker

from tenants.job_context import TENANT_OPTION, TenantMissingError

pytestmark = pytest.mark.django_db(transaction=False)

QUEUE = f"jobs-test-{uuid.uuid4().hex[:8]}"
seen: list[tuple[str, str, str]] = []
seen_lock = threading.Lock()
attempts: dict[str, int] = {}


def _record(label: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        database_schema = cursor.fetchone()[0]
    with seen_lock:
        seen.append((label, connection.schema_name, database_schema))


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def record_schema(label: str) -> None:
    _record(label)


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def fail_after_recording(label: str) -> None:
    _record(label)
    raise RuntimeError("planned failure")


@dramatiq.actor(queue_name=QUEUE, max_retries=1, min_backoff=10, max_backoff=20)
def fail_once_then_record(label: str) -> None:
    attempts[label] = attempts.get(label, 0) + 1
    _record(f"{label}#{attempts[label]}")
    if attempts[label] == 1:
        raise RuntimeError("first attempt fails")


@dramatiq.actor(queue_name=QUEUE, max_retries=0, control_plane=True)
def platform_job(label: str) -> None:
    _record(label)


@pytest.fixture
def worker():
    seen.clear()
    attempts.clear()
    broker = dramatiq.get_broker()
    broker.flush(QUEUE) if hasattr(broker, "flush") else None
    worker = Worker(broker, worker_threads=1, worker_timeout=50)
    worker.start()
    yield broker
    worker.stop()
    broker.flush(QUEUE)


def _drain(broker) -> None:
    broker.join(QUEUE, timeout=20_000, **({"fail_fast": False} if "Stub" in type(broker).__name__ else {}))


def test_consecutive_messages_of_different_portals_each_run_in_their_own_schema(worker, portal_a, portal_b):
    a, b = portal_a.tenant.schema_name, portal_b.tenant.schema_name
    with tenant_context(portal_a.tenant):
        record_schema.send("a1")
    with tenant_context(portal_b.tenant):
        fail_after_recording.send("b-fails")
    with tenant_context(portal_a.tenant):
        record_schema.send("a2")
    with tenant_context(portal_b.tenant):
        record_schema.send("b1")
    platform_job.send("platform")
    _drain(worker)

    by_label = {label: (django_schema, db_schema) for label, django_schema, db_schema in seen}
    assert by_label == {
        "a1": (a, a),
        "b-fails": (b, b),
        "a2": (a, a),
        "b1": (b, b),
        "platform": ("public", "public"),
    }


def test_a_retried_message_runs_again_in_its_portal(worker, portal_a, portal_b):
    with tenant_context(portal_b.tenant):
        fail_once_then_record.send("retry")
    with tenant_context(portal_a.tenant):
        record_schema.send("between")
    _drain(worker)
    schemas = {label: django_schema for label, django_schema, _ in seen}
    assert schemas["retry#1"] == portal_b.tenant.schema_name
    assert schemas["retry#2"] == portal_b.tenant.schema_name
    assert schemas["between"] == portal_a.tenant.schema_name


def test_enqueuing_a_portal_job_with_no_portal_active_is_refused(portals):
    connection.set_schema_to_public()
    with pytest.raises(TenantMissingError):
        record_schema.send("nobody")


def test_the_schema_is_stamped_on_the_message(portal_a):
    with tenant_context(portal_a.tenant):
        message = record_schema.message("stamp")
        dramatiq.get_broker().emit_before("enqueue", message, 0)
    assert message.options[TENANT_OPTION] == portal_a.tenant.schema_name


def test_a_message_for_a_portal_that_no_longer_exists_is_skipped_and_resets_to_public(worker, portal_a):
    message = record_schema.message("ghost").copy(options={TENANT_OPTION: "t_000000000000"})
    worker.enqueue(message)
    with tenant_context(portal_a.tenant):
        record_schema.send("after-ghost")
    _drain(worker)
    labels = [label for label, _, _ in seen]
    assert "ghost" not in labels
    assert ("after-ghost", portal_a.tenant.schema_name, portal_a.tenant.schema_name) in seen


def test_worker_thread_is_back_on_public_after_each_message(portal_a):
    """Run the middleware hooks directly on this thread: success, failure and skip paths."""
    from dramatiq.middleware import SkipMessage

    from tenants.job_context import TenantJobMiddleware

    broker = dramatiq.get_broker()
    middleware = TenantJobMiddleware()
    message = record_schema.message("direct").copy(options={TENANT_OPTION: portal_a.tenant.schema_name})

    middleware.before_process_message(broker, message)
    assert connection.schema_name == portal_a.tenant.schema_name
    middleware.after_process_message(broker, message, exception=RuntimeError("boom"))
    assert connection.schema_name == "public"

    orphan = record_schema.message("orphan").copy(options={TENANT_OPTION: "public"})
    with pytest.raises(SkipMessage):
        middleware.before_process_message(broker, orphan)
    middleware.after_skip_message(broker, orphan)
    assert connection.schema_name == "public"
