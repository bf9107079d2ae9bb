"""Periodic jobs: every app's ``jobs.PERIODIC_JOBS`` enqueued on its cron schedule (UTC).

Exactly one scheduler runs (`kompas scheduler` as a single replica in production, a thread of
`kompas run` locally); it only enqueues, the workers do the work, and the jobs are idempotent
so an extra run after a restart does no harm.
"""

from __future__ import annotations

import importlib

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from django.apps import apps

log = structlog.get_logger(__name__)


def periodic_jobs() -> list[tuple[object, str]]:
    found = []
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.jobs")
        except ModuleNotFoundError as error:
            if error.name != f"{config.name}.jobs":
                raise
            continue
        found += list(getattr(module, "PERIODIC_JOBS", []))
    return found


def _enqueue(actor) -> None:
    actor.send()
    log.info("scheduler.enqueued", job=actor.actor_name)


def build_scheduler(*, blocking: bool) -> BackgroundScheduler | BlockingScheduler:
    scheduler = (BlockingScheduler if blocking else BackgroundScheduler)(timezone="UTC")
    for actor, cron in periodic_jobs():
        scheduler.add_job(_enqueue, CronTrigger.from_crontab(cron, timezone="UTC"), args=[actor],
                          id=actor.actor_name, coalesce=True, max_instances=1, misfire_grace_time=300)
    return scheduler
