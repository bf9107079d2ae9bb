"""Sales flow: how a lead's fields map onto the records it becomes, the automatic conversion
rule, and leads created on a schedule for a known customer (seed 000 L2725–3140)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ConversionTarget(models.TextChoices):
    CONTACT = "contact", _("contact")
    COMPANY = "company", _("company")
    DEAL = "deal", _("deal")


class ConversionMapping(models.Model):
    """One lead field copied onto a field of a record the conversion creates. Custom fields are
    written ``custom.<code>`` on either side. No rows means the defaults (services.DEFAULT_MAPPING)."""

    lead_field = models.CharField(_("lead field"), max_length=80)
    target = models.CharField(_("becomes a field of"), max_length=10, choices=ConversionTarget.choices)
    target_field = models.CharField(_("target field"), max_length=80)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["target", "position", "id"]
        verbose_name = _("conversion field mapping")
        verbose_name_plural = _("conversion field mappings")
        constraints = [models.UniqueConstraint(fields=["target", "target_field"], name="one_source_per_target")]

    def __str__(self) -> str:
        return f"{self.lead_field} → {self.target}.{self.target_field}"


class AutoConvertCondition(models.TextChoices):
    IN_PROGRESS_WITH_COMPANY = "in_progress_with_company", _("the lead is in progress and has a company name")
    IN_PROGRESS = "in_progress", _("the lead is in progress")


class ConversionSettings(models.Model):
    """The portal's one row of conversion settings (created on first use)."""

    auto_convert = models.BooleanField(_("convert leads automatically"), default=False)
    condition = models.CharField(_("when"), max_length=40, choices=AutoConvertCondition.choices,
                                 default=AutoConvertCondition.IN_PROGRESS_WITH_COMPANY)

    class Meta:
        verbose_name = _("conversion settings")
        verbose_name_plural = _("conversion settings")

    def __str__(self) -> str:
        return str(_("conversion settings"))


class Frequency(models.TextChoices):
    DAILY = "daily", _("daily")
    WEEKLY = "weekly", _("weekly")
    MONTHLY = "monthly", _("monthly")


class RecurringLead(models.Model):
    """A lead opened for a customer again and again (a subscription renewal, a monthly order)."""

    contact = models.ForeignKey("crm_contacts.Contact", on_delete=models.CASCADE, null=True, blank=True,
                                related_name="+", verbose_name=_("contact"))
    company = models.ForeignKey("crm_contacts.Company", on_delete=models.CASCADE, null=True, blank=True,
                                related_name="+", verbose_name=_("company"))
    owner = models.ForeignKey("members.Membership", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", verbose_name=_("owner"))
    title_template = models.CharField(_("title"), max_length=200,
                                      help_text=_("{date} is replaced with the day the lead is created."))
    frequency = models.CharField(_("frequency"), max_length=10, choices=Frequency.choices)
    next_run = models.DateField(_("next lead on"))
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["next_run", "id"]
        verbose_name = _("recurring lead")
        verbose_name_plural = _("recurring leads")
        indexes = [models.Index(fields=["next_run"], condition=models.Q(active=True), name="recurring_lead_due")]

    def __str__(self) -> str:
        return self.title_template
