"""Leads: someone who may buy, not yet a customer (seed 000 L2725–3140)."""

from __future__ import annotations

from django.db import models
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from crm.core.models import JsonValues, Record, SearchDocument, record_indexes


class LeadStatus(models.TextChoices):
    NEW = "new", _("new")
    IN_PROGRESS = "in_progress", _("in progress")
    CONVERTED = "converted", _("converted")
    JUNK = "junk", _("junk")


class Lead(Record):
    title = models.CharField(_("title"), max_length=250)
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    company_name = models.CharField(_("company name"), max_length=250, blank=True)
    position = models.CharField(_("position"), max_length=150, blank=True)
    emails = models.JSONField(_("e-mail addresses"), default=list, blank=True)
    phones = models.JSONField(_("phone numbers"), default=list, blank=True)
    source = models.ForeignKey("crm_dictionaries.Choice", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+", verbose_name=_("acquisition source"))
    status = models.CharField(_("status"), max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW)
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    # A lead from a known customer points at them (repeat leads, sales-flow issue).
    contact = models.ForeignKey("crm_contacts.Contact", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="leads", verbose_name=_("contact"))
    company = models.ForeignKey("crm_contacts.Company", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="leads", verbose_name=_("company"))
    is_repeat = models.BooleanField(_("repeat lead"), default=False, editable=False)
    junk_reason = models.CharField(_("reason"), max_length=300, blank=True)
    converted_at = models.DateTimeField(_("converted"), null=True, blank=True, editable=False)
    description = models.TextField(_("description"), blank=True)
    search_text = models.GeneratedField(
        expression=SearchDocument(F("title"), F("first_name"), F("last_name"), F("company_name"),
                                  JsonValues(F("emails")), JsonValues(F("phones"))),
        output_field=models.TextField(), db_persist=True)

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        indexes = [*record_indexes("lead", "status", "title"),
                   models.Index(fields=["contact"], name="lead_contact")]

    def __str__(self) -> str:
        return self.title
