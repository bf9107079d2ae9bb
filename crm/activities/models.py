"""Calls, meetings, notes and comments logged on a record; they make up its timeline together
with the record's history (crm.core) and, later, its messages (inbox)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ActivityKind(models.TextChoices):
    CALL = "call", _("call")
    MEETING = "meeting", _("meeting")
    NOTE = "note", _("note")
    COMMENT = "comment", _("comment")


class Direction(models.TextChoices):
    INBOUND = "inbound", _("incoming")
    OUTBOUND = "outbound", _("outgoing")


class Activity(models.Model):
    """Attached to one record by (entity, record_id); rights follow that record."""

    kind = models.CharField(_("kind"), max_length=10, choices=ActivityKind.choices)
    entity = models.CharField(max_length=40)
    record_id = models.BigIntegerField()
    subject = models.CharField(_("subject"), max_length=250, blank=True)
    body = models.TextField(_("text"), blank=True)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices, blank=True)
    starts_at = models.DateTimeField(_("start"), null=True, blank=True)
    ends_at = models.DateTimeField(_("end"), null=True, blank=True)
    location = models.CharField(_("place"), max_length=250, blank=True)
    outcome = models.CharField(_("outcome"), max_length=250, blank=True)
    is_done = models.BooleanField(_("done"), default=False)
    author = models.ForeignKey("members.Membership", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+", verbose_name=_("author"))
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [models.Index(fields=["entity", "record_id", "-created_at"], name="activity_of_record"),
                   models.Index(fields=["author", "starts_at"], name="activity_agenda")]

    def __str__(self) -> str:
        return self.subject or self.get_kind_display()
