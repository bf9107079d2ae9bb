"""People and companies the portal's team works with (seed 000 L3534–4245, 002 L220–450)."""

from __future__ import annotations

from django.db import models
from django.db.models import F
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from crm.core.models import JsonValues, Record, SearchDocument, record_indexes


class Address(models.Model):
    """The postal address columns people and companies share."""

    street = models.CharField(_("street and number"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=120, blank=True)
    region = models.CharField(_("region"), max_length=120, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True, default="PL",
                               help_text=_("Two-letter ISO code, e.g. PL."))

    class Meta:
        abstract = True


class CompanyType(models.TextChoices):
    """Polish legal forms first: they decide what goes on a quote or invoice."""

    SP_ZOO = "sp_zoo", _("limited liability company (sp. z o.o.)")
    SA = "sa", _("joint-stock company (S.A.)")
    SP_J = "sp_j", _("general partnership (sp.j.)")
    SP_K = "sp_k", _("limited partnership (sp.k.)")
    SKA = "ska", _("limited joint-stock partnership (S.K.A.)")
    SP_P = "sp_p", _("professional partnership (sp.p.)")
    SC = "sc", _("civil partnership (s.c.)")
    JDG = "jdg", _("sole proprietorship (JDG)")
    FOUNDATION = "foundation", _("foundation")
    ASSOCIATION = "association", _("association")
    COOPERATIVE = "cooperative", _("cooperative")
    PUBLIC = "public", _("public institution")
    OTHER = "other", _("other")


class Company(Record, Address):
    name = models.CharField(_("name"), max_length=250)
    nip = models.CharField(_("NIP"), max_length=10, blank=True, help_text=_("Polish tax number, 10 digits."))
    regon = models.CharField(_("REGON"), max_length=14, blank=True)
    vat_id = models.CharField(_("EU VAT number"), max_length=20, blank=True)
    company_type = models.CharField(_("company type"), max_length=20, choices=CompanyType.choices, blank=True)
    industry = models.ForeignKey("crm_dictionaries.Choice", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", verbose_name=_("industry"))
    website = models.URLField(_("website"), max_length=300, blank=True)
    emails = models.JSONField(_("e-mail addresses"), default=list, blank=True)
    phones = models.JSONField(_("phone numbers"), default=list, blank=True)
    source = models.ForeignKey("crm_dictionaries.Choice", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+", verbose_name=_("acquisition source"))
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    description = models.TextField(_("description"), blank=True)
    search_text = models.GeneratedField(
        expression=SearchDocument(F("name"), F("nip"), F("regon"), F("city"), F("website"),
                                  JsonValues(F("emails")), JsonValues(F("phones"))),
        output_field=models.TextField(), db_persist=True)

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        indexes = [*record_indexes("company", "name", "city"),
                   models.Index(Upper("city"), F("name"), F("id"), name="company_city_ci_name"),
                   models.Index(fields=["nip"], condition=~models.Q(nip=""), name="company_nip"),
                   models.Index(fields=["source"], name="company_source")]

    def __str__(self) -> str:
        return self.name


class Contact(Record, Address):
    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    position = models.CharField(_("position"), max_length=150, blank=True)
    company = models.ForeignKey(Company, on_delete=models.SET_NULL, null=True, blank=True, related_name="contacts",
                                verbose_name=_("company"))
    emails = models.JSONField(_("e-mail addresses"), default=list, blank=True)
    phones = models.JSONField(_("phone numbers"), default=list, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    source = models.ForeignKey("crm_dictionaries.Choice", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="+", verbose_name=_("acquisition source"))
    contact_type = models.ForeignKey("crm_dictionaries.Choice", on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name=_("contact type"))
    description = models.TextField(_("description"), blank=True)
    search_text = models.GeneratedField(
        expression=SearchDocument(F("first_name"), F("last_name"), F("position"), F("city"),
                                  JsonValues(F("emails")), JsonValues(F("phones"))),
        output_field=models.TextField(), db_persist=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [*record_indexes("contact", "last_name", "city"),
                   # Filters compare text case-insensitively (UPPER(city) = UPPER(…)); not partial, so
                   # the planner also gets statistics for the expression (bench/run crm: 100 ms → 2 ms).
                   models.Index(Upper("city"), F("last_name"), F("id"), name="contact_city_ci_last_name"),
                   models.Index(fields=["company"], name="contact_company"),
                   models.Index(fields=["source"], name="contact_source")]

    def __str__(self) -> str:
        return self.full_name or str(_("(no name)"))

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)
