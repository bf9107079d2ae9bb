"""Deals on pipelines of ordered stages (seed 000 L3141–3534)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from crm.core.models import Record, SearchDocument, record_indexes


class Pipeline(models.Model):
    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    is_default = models.BooleanField(_("default"), default=False)
    # Empty means every role that may read deals sees this pipeline (identity issue: per-pipeline access).
    allowed_roles = models.ManyToManyField("members.Role", blank=True, related_name="+",
                                           verbose_name=_("roles with access"))

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        constraints = [models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True),
                                               name="one_default_pipeline")]

    def __str__(self) -> str:
        return self.name


class StageKind(models.TextChoices):
    OPEN = "open", _("in progress")
    WON = "won", _("won")
    LOST = "lost", _("lost")


class Stage(models.Model):
    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveIntegerField(_("order"), default=0)
    probability = models.PositiveSmallIntegerField(_("win probability (%)"), default=0,
                                                   validators=[MaxValueValidator(100)])
    kind = models.CharField(_("kind"), max_length=10, choices=StageKind.choices, default=StageKind.OPEN)
    color = models.CharField(_("colour"), max_length=7, default="#4f7cff")
    # Deal fields (or "custom.<code>") that must be filled before a deal may enter this stage.
    required_fields = ArrayField(models.CharField(max_length=80), verbose_name=_("required fields"),
                                 default=list, blank=True)

    class Meta:
        ordering = ["pipeline", "position", "id"]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.kind != StageKind.OPEN


class Deal(Record):
    title = models.CharField(_("title"), max_length=250)
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=3)
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals",
                                 verbose_name=_("pipeline"))
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals", verbose_name=_("stage"))
    probability = models.PositiveSmallIntegerField(_("probability (%)"), default=0,
                                                   validators=[MaxValueValidator(100)])
    expected_close_date = models.DateField(_("expected close date"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True, editable=False)
    stage_changed_at = models.DateTimeField(_("in this stage since"), null=True, blank=True, editable=False)
    company = models.ForeignKey("crm_contacts.Company", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="deals", verbose_name=_("company"))
    contacts = models.ManyToManyField("crm_contacts.Contact", blank=True, related_name="deals",
                                      verbose_name=_("contacts"))
    lead = models.ForeignKey("crm_leads.Lead", on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="deals", verbose_name=_("lead"), editable=False)
    source = models.ForeignKey("crm_dictionaries.Choice", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+", verbose_name=_("acquisition source"))
    lost_reason = models.CharField(_("reason for losing"), max_length=300, blank=True)
    # Order of cards inside a kanban column; gaps let a card move with one UPDATE.
    board_position = models.FloatField(default=0, editable=False)
    description = models.TextField(_("description"), blank=True)
    search_text = models.GeneratedField(expression=SearchDocument(F("title"), F("lost_reason")),
                                        output_field=models.TextField(), db_persist=True)

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        indexes = [*record_indexes("deal", "value", "expected_close_date", "title"),
                   models.Index(fields=["stage", "board_position", "id"], condition=models.Q(deleted_at__isnull=True),
                                name="deal_board"),
                   models.Index(fields=["company"], name="deal_company")]

    def __str__(self) -> str:
        return self.title
