"""A record's timeline: its activities, its tasks and its history in one list, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from crm.activities.models import Activity
from crm.core.models import ChangeEntry
from crm.core.selectors import record_for
from crm.tasks.models import Task


@dataclass(frozen=True)
class TimelineItem:
    kind: str  # "activity", "task" or "change"
    at: datetime
    item: object


def activities_of(principal, entity: str, record_id) -> list[Activity]:
    record = record_for(principal, entity, record_id, include_deleted=True)
    return list(Activity.objects.filter(entity=entity, record_id=record.pk, deleted_at__isnull=True)
                .select_related("author__user"))


def timeline(principal, entity: str, record_id, *, limit: int = 100) -> list[TimelineItem]:
    """Three queries whatever the record holds; history lines saved together stay together."""
    record = record_for(principal, entity, record_id, include_deleted=True)
    activities = (Activity.objects.filter(entity=entity, record_id=record.pk, deleted_at__isnull=True)
                  .select_related("author__user")[:limit])
    tasks = (Task.objects.alive().filter(links__entity=entity, links__record_id=record.pk)
             .select_related("owner__user").order_by("-created_at")[:limit])
    changes = (ChangeEntry.objects.filter(entity=entity, record_id=record.pk)
               .select_related("actor__user")[:limit])
    items = ([TimelineItem("activity", activity.starts_at or activity.created_at, activity) for activity in activities]
             + [TimelineItem("task", task.created_at, task) for task in tasks]
             + [TimelineItem("change", change.at, change) for change in changes])
    return sorted(items, key=lambda item: item.at, reverse=True)[:limit]
