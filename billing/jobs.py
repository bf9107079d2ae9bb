"""Billing's background jobs. All are control-plane jobs: they run in the public schema.

``PERIODIC_JOBS`` is read by the scheduler (kompas.scheduler): cron expressions in UTC.
"""

from __future__ import annotations

from datetime import timedelta

import dramatiq
from django.utils import timezone

from billing import dunning, services, stripe_sync

QUEUE = "billing"
# An event still unprocessed after this long lost its message (broker down at delivery, or
# retries exhausted); the sweep below sends it again.
STUCK_AFTER = timedelta(minutes=15)


@dramatiq.actor(control_plane=True, queue_name=QUEUE, max_retries=12, min_backoff=15_000, max_backoff=3_600_000)
def process_stripe_event(event_id: str) -> None:
    stripe_sync.process_event(event_id)


@dramatiq.actor(control_plane=True, queue_name=QUEUE, max_retries=3)
def retry_stuck_stripe_events() -> None:
    for event_id in stripe_sync.unprocessed_event_ids(received_before=timezone.now() - STUCK_AFTER):
        process_stripe_event.send(event_id)


@dramatiq.actor(control_plane=True, queue_name=QUEUE, max_retries=3)
def enforce_dunning() -> None:
    dunning.enforce_dunning()


@dramatiq.actor(control_plane=True, queue_name=QUEUE, max_retries=3)
def end_expired_trials() -> None:
    dunning.end_expired_trials()


@dramatiq.actor(control_plane=True, queue_name=QUEUE, max_retries=3, time_limit=30 * 60_000)
def reconcile_with_stripe() -> None:
    stripe_sync.reconcile_with_stripe()


@dramatiq.actor(control_plane=True, queue_name=QUEUE, max_retries=3)
def apply_scheduled_plan_changes() -> None:
    services.apply_due_scheduled_changes()


PERIODIC_JOBS = [
    (enforce_dunning, "15 * * * *"),
    (end_expired_trials, "20 * * * *"),
    (retry_stuck_stripe_events, "*/15 * * * *"),
    (apply_scheduled_plan_changes, "5 * * * *"),
    (reconcile_with_stripe, "30 2 * * *"),
]
