"""Tasks (seed 000 L2178–2725, seed 002: four priorities, statuses, overdue)."""

from __future__ import annotations

from django.db import models
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from crm.core.models import Record, SearchDocument, record_indexes


class Priority(models.TextChoices):
    LOW = "low", _("low")
    NORMAL = "normal", _("normal")
    URGENT = "urgent", _("urgent")
    CRITICAL = "critical", _("critical")


class TaskStatus(models.TextChoices):
    NEW = "new", _("new")
    IN_PROGRESS = "in_progress", _("in progress")
    COMPLETED = "completed", _("completed")
    REJECTED = "rejected", _("rejected")


OPEN_STATUSES = (TaskStatus.NEW, TaskStatus.IN_PROGRESS)


class Task(Record):
    """``owner`` is the person responsible for the task."""

    title = models.CharField(_("title"), max_length=250)
    description = models.TextField(_("description"), blank=True)
    participants = models.ManyToManyField("members.Membership", blank=True, related_name="+",
                                          verbose_name=_("participants"))
    observers = models.ManyToManyField("members.Membership", blank=True, related_name="+",
                                       verbose_name=_("observers"))
    deadline = models.DateTimeField(_("deadline"), null=True, blank=True)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(_("status"), max_length=12, choices=TaskStatus.choices, default=TaskStatus.NEW)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True, editable=False)
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="subtasks",
                               verbose_name=_("parent task"))
    depends_on = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="blocks",
                                        verbose_name=_("depends on"))
    search_text = models.GeneratedField(expression=SearchDocument(F("title"), F("description")),
                                        output_field=models.TextField(), db_persist=True)

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [*record_indexes("task", "deadline", "priority"),
                   models.Index(fields=["status", "deadline"], condition=models.Q(deleted_at__isnull=True),
                                name="task_open_deadline")]

    def __str__(self) -> str:
        return self.title


class TaskLink(models.Model):
    """A task is about one or more records of any entity (deal, contact, …)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="links")
    entity = models.CharField(max_length=40)
    record_id = models.BigIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["task", "entity", "record_id"], name="task_link_unique")]
        indexes = [models.Index(fields=["entity", "record_id"], name="task_link_record")]

    def __str__(self) -> str:
        return f"{self.task_id} → {self.entity}#{self.record_id}"
