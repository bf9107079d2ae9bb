"""Rules for tasks: status and completion, subtasks, dependencies, links to records."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.core.registry import record_type
from crm.tasks.models import OPEN_STATUSES, Task, TaskLink, TaskStatus


def _ancestors(task_id: int | None) -> set[int]:
    seen = set()
    while task_id and task_id not in seen:
        seen.add(task_id)
        task_id = Task.objects.filter(pk=task_id).values_list("parent_id", flat=True).first()
    return seen


def prepare_task(values: dict, record: Task | None, actor) -> dict:
    parent = values.get("parent")
    if parent is not None:
        parent_id = getattr(parent, "pk", parent)
        if record is not None and record.pk in _ancestors(parent_id):
            raise ValidationError({"parent": [_("A task cannot be a subtask of itself or of its own subtask.")]})
    status = values.get("status")
    if status is not None and (record is None or status != record.status):
        if status == TaskStatus.COMPLETED:
            blocking = _open_dependencies(record, values.get("depends_on"))
            if blocking:
                raise ValidationError({"status": [_("Finish the tasks this one depends on first: %(tasks)s.")
                                                  % {"tasks": ", ".join(blocking)}]})
            values["completed_at"] = timezone.now()
        else:
            values["completed_at"] = None
    if "depends_on" in values and record is not None:
        ids = {getattr(item, "pk", item) for item in values["depends_on"] or []}
        if record.pk in ids:
            raise ValidationError({"depends_on": [_("A task cannot depend on itself.")]})
    return values


def _open_dependencies(record: Task | None, pending) -> list[str]:
    if pending is not None:
        ids = [getattr(item, "pk", item) for item in pending]
        queryset = Task.objects.filter(pk__in=ids)
    elif record is not None:
        queryset = record.depends_on.all()
    else:
        return []
    return list(queryset.filter(status__in=OPEN_STATUSES, deleted_at__isnull=True).values_list("title", flat=True))


def progress(task: Task) -> int | None:
    """Share of finished subtasks in percent, None without subtasks."""
    statuses = list(task.subtasks.filter(deleted_at__isnull=True).values_list("status", flat=True))
    if not statuses:
        return None
    done = sum(status in (TaskStatus.COMPLETED, TaskStatus.REJECTED) for status in statuses)
    return round(100 * done / len(statuses))


def is_overdue(task: Task, *, now=None) -> bool:
    return bool(task.deadline and task.status in OPEN_STATUSES and task.deadline < (now or timezone.now()))


@transaction.atomic
def link_task(*, actor, task: Task, entity: str, record_id: int) -> TaskLink:
    """Attach a task to a record the actor may read."""
    from crm.core.selectors import record_for

    record_type(entity)
    record = record_for(actor, entity, record_id)
    link, _created = TaskLink.objects.get_or_create(task=task, entity=entity, record_id=record.pk)
    return link


@transaction.atomic
def unlink_task(*, task: Task, entity: str, record_id: int) -> None:
    TaskLink.objects.filter(task=task, entity=entity, record_id=record_id).delete()
