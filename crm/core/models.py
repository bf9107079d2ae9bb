"""What every CRM record shares (owner, custom fields, tags, soft delete, search document) and the
cross-domain tables: history of changes, custom field definitions, saved list views, idempotency.

Records of other domains are referred to by (entity code, id) — the same codes the permission
layer uses — so history, timelines and task links work for every entity without a generic FK.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import Func
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SearchDocument(Func):
    """``public.kompas_search_doc(a, b, …)``: lower-cased, unaccented text of the given columns,
    immutable so it can be a stored generated column with a trigram index (tenants migration 0005)."""

    function = "public.kompas_search_doc"
    output_field = models.TextField()


class JsonValues(Func):
    """The ``value`` of every item of a JSON list of ``{"value": …}`` as text, for the search document."""

    template = "jsonb_path_query_array(%(expressions)s, '$[*].value')::text"
    output_field = models.TextField()


class RecordQuerySet(models.QuerySet):
    def alive(self) -> RecordQuerySet:
        return self.filter(deleted_at__isnull=True)

    def in_recycle_bin(self) -> RecordQuerySet:
        return self.filter(deleted_at__isnull=False)


class Record(models.Model):
    """The columns every CRM record has. Deleting is soft: ``deleted_at`` puts it in the recycle bin."""

    owner = models.ForeignKey("members.Membership", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", verbose_name=_("owner"))
    created_by = models.ForeignKey("members.Membership", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"), editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("modified"), auto_now=True)
    deleted_at = models.DateTimeField(_("deleted"), null=True, blank=True, editable=False)
    deleted_by = models.ForeignKey("members.Membership", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", editable=False)
    tags = ArrayField(models.CharField(max_length=50), verbose_name=_("tags"), default=list, blank=True)
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)

    objects = RecordQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


def record_indexes(prefix: str, *sort_fields: str) -> list[models.Index]:
    """Indexes every record table needs: live rows by owner and by each list sort, tags, custom fields."""
    live = models.Q(deleted_at__isnull=True)
    indexes = [
        models.Index(fields=["owner", "-created_at"], condition=live, name=f"{prefix}_owner_live"),
        models.Index(fields=["-created_at", "-id"], condition=live, name=f"{prefix}_created_live"),
        models.Index(fields=["deleted_at"], condition=models.Q(deleted_at__isnull=False), name=f"{prefix}_bin"),
        GinIndex(fields=["tags"], name=f"{prefix}_tags"),
        GinIndex(fields=["custom"], name=f"{prefix}_custom", opclasses=["jsonb_path_ops"]),
        GinIndex(fields=["search_text"], name=f"{prefix}_search_trgm", opclasses=["gin_trgm_ops"]),
    ]
    for field in sort_fields:
        indexes.append(models.Index(fields=[field, "id"], condition=live, name=f"{prefix}_{field.strip('-')}_live"))
    return indexes


class ChangeKind(models.TextChoices):
    CREATED = "created", _("created")
    UPDATED = "updated", _("changed")
    DELETED = "deleted", _("moved to the recycle bin")
    RESTORED = "restored", _("restored")
    MERGED = "merged", _("merged")
    CONVERTED = "converted", _("converted")


class ChangeEntry(models.Model):
    """One line of a record's history: who, when, which field, old → new (DESIGN: every change)."""

    entity = models.CharField(max_length=40)
    record_id = models.BigIntegerField()
    kind = models.CharField(max_length=12, choices=ChangeKind.choices)
    field = models.CharField(max_length=80, blank=True)
    field_label = models.CharField(max_length=120, blank=True)
    old_value = models.TextField(blank=True)
    new_value = models.TextField(blank=True)
    actor = models.ForeignKey("members.Membership", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    # Kept as text so the line still says who it was after the person or key is gone.
    actor_label = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(default=timezone.now)
    batch = models.UUIDField(null=True, blank=True, help_text="Changes saved together share a batch.")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["entity", "record_id", "-at"], name="history_of_record"),
                   # "Recently worked on" on the dashboard: a person's latest changes.
                   models.Index(fields=["actor", "-at"], name="history_by_actor")]

    def __str__(self) -> str:
        return f"{self.entity}#{self.record_id} {self.kind} {self.field}"


class FieldType(models.TextChoices):
    TEXT = "text", _("text")
    LONG_TEXT = "long_text", _("long text")
    NUMBER = "number", _("number")
    MONEY = "money", _("amount of money")
    DATE = "date", _("date")
    DATETIME = "datetime", _("date and time")
    SELECT = "select", _("list (one value)")
    MULTISELECT = "multiselect", _("list (several values)")
    BOOLEAN = "boolean", _("yes / no")
    USER = "user", _("person in the portal")
    URL = "url", _("web address")
    EMAIL = "email", _("e-mail address")
    PHONE = "phone", _("phone number")


class CustomField(models.Model):
    """A field a portal added to an entity; values live in the record's ``custom`` JSON under ``code``
    (docs/decisions/0012)."""

    entity = models.CharField(_("record type"), max_length=40)
    code = models.SlugField(_("code"), max_length=60,
                            help_text=_("Used in the API and in filters; cannot be changed later."))
    label = models.CharField(_("name"), max_length=120)
    field_type = models.CharField(_("type"), max_length=20, choices=FieldType.choices)
    options = ArrayField(models.CharField(max_length=120), verbose_name=_("options"), default=list, blank=True)
    required = models.BooleanField(_("required"), default=False)
    default = models.JSONField(_("default value"), null=True, blank=True)
    help_text = models.CharField(_("hint"), max_length=300, blank=True)
    position = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["entity", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["entity", "code"], name="custom_field_code_unique")]
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")

    def __str__(self) -> str:
        return self.label


class SavedView(models.Model):
    """A list view someone saved: filters (the filter language of crm.core.filters), columns, sort."""

    entity = models.CharField(max_length=40)
    name = models.CharField(_("name"), max_length=120)
    owner = models.ForeignKey("members.Membership", on_delete=models.CASCADE, related_name="+")
    is_shared = models.BooleanField(_("shared with everyone"), default=False)
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    columns = ArrayField(models.CharField(max_length=80), default=list, blank=True)
    ordering = ArrayField(models.CharField(max_length=81), default=list, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["position", "name", "id"]
        indexes = [models.Index(fields=["entity", "owner"], name="saved_view_lookup")]

    def __str__(self) -> str:
        return self.name


class IdempotencyKey(models.Model):
    """The stored answer to a POST sent with an ``Idempotency-Key`` header, replayed on a retry."""

    key = models.CharField(max_length=255)
    principal = models.CharField(max_length=80, help_text="member:<id> or key:<id>")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["principal", "key"], name="idempotency_key_unique")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_age")]

    def __str__(self) -> str:
        return f"{self.principal} {self.method} {self.path} {self.key}"
