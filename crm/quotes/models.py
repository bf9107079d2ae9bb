"""Quotes (offers) sent to clients, viewed and decided online (seed 000 L908–965, L2725–3140)."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F
from django.utils.translation import gettext_lazy as _

from crm.core.models import Record, SearchDocument, record_indexes
from crm.products.models import VAT_CHOICES, LineBase


class QuoteTemplate(models.Model):
    """How a quote's PDF and online page look; one is the default."""

    name = models.CharField(_("name"), max_length=120)
    header_text = models.TextField(_("header text"), blank=True)
    footer_text = models.TextField(_("footer text"), blank=True)
    primary_color = models.CharField(_("main colour"), max_length=7, default="#1f3a68")
    accent_color = models.CharField(_("accent colour"), max_length=7, default="#4f7cff")
    show_logo = models.BooleanField(_("show the portal's logo"), default=True)
    is_default = models.BooleanField(_("default"), default=False)
    # Where an accepted quote moves its deal; empty: the won stage of the deal's pipeline.
    accepted_stage = models.ForeignKey("crm_deals.Stage", on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="+", verbose_name=_("stage after acceptance"))

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("quote template")
        verbose_name_plural = _("quote templates")

    def __str__(self) -> str:
        return self.name


class NumberSequence(models.Model):
    """The last number given in a series ("OF/2026"); locked with SELECT … FOR UPDATE."""

    series = models.CharField(max_length=40, unique=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.series}/{self.last_number}"


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    SENT = "sent", _("sent")
    VIEWED = "viewed", _("viewed")
    ACCEPTED = "accepted", _("accepted")
    DECLINED = "declined", _("declined")
    EXPIRED = "expired", _("expired")


class Quote(Record):
    number = models.CharField(_("number"), max_length=40, editable=False)
    title = models.CharField(_("title"), max_length=250, blank=True)
    deal = models.ForeignKey("crm_deals.Deal", on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="quotes", verbose_name=_("deal"))
    company = models.ForeignKey("crm_contacts.Company", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="quotes", verbose_name=_("company"))
    contact = models.ForeignKey("crm_contacts.Contact", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="quotes", verbose_name=_("contact"))
    # The client's name, address, NIP and e-mail as they were when the quote was issued or sent.
    client = models.JSONField(_("client data"), default=dict, blank=True, editable=False)
    currency = models.CharField(_("currency"), max_length=3)
    discount_percent = models.DecimalField(_("discount on everything (%)"), max_digits=5, decimal_places=2,
                                           default=Decimal(0), validators=[MinValueValidator(Decimal(0)),
                                                                           MaxValueValidator(Decimal(100))])
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    payment_terms = models.TextField(_("payment terms"), blank=True)
    delivery_terms = models.TextField(_("delivery terms"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    template = models.ForeignKey(QuoteTemplate, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+", verbose_name=_("template"))
    status = models.CharField(_("status"), max_length=10, choices=QuoteStatus.choices, default=QuoteStatus.DRAFT,
                              editable=False)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True, editable=False)
    sent_to = models.CharField(_("sent to"), max_length=254, blank=True, editable=False)
    first_opened_at = models.DateTimeField(_("first opened"), null=True, blank=True, editable=False)
    last_opened_at = models.DateTimeField(_("last opened"), null=True, blank=True, editable=False)
    open_count = models.PositiveIntegerField(_("times opened"), default=0, editable=False)
    seconds_viewed = models.PositiveIntegerField(_("seconds viewed"), default=0, editable=False)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True, editable=False)
    decision_comment = models.TextField(_("client's comment"), blank=True, editable=False)
    search_text = models.GeneratedField(expression=SearchDocument(F("number"), F("title")),
                                        output_field=models.TextField(), db_persist=True)

    class Meta:
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        indexes = [*record_indexes("quote", "number"),
                   models.Index(fields=["deal"], name="quote_deal")]

    def __str__(self) -> str:
        return self.number or self.title

    @property
    def time_viewed(self) -> str:
        minutes, seconds = divmod(self.seconds_viewed, 60)
        return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


class QuoteLine(LineBase):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")

    class Meta(LineBase.Meta):
        verbose_name = _("quote line")
        verbose_name_plural = _("quote lines")
        indexes = [models.Index(fields=["quote", "position"], name="quote_line_order")]

    def __str__(self) -> str:
        return self.name


class QuoteCost(models.Model):
    """An extra cost of a quote (delivery, installation), net, with its VAT rate."""

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="costs")
    name = models.CharField(_("name"), max_length=250)
    amount = models.DecimalField(_("net amount"), max_digits=14, decimal_places=2,
                                 validators=[MinValueValidator(Decimal(0))])
    vat_rate = models.CharField(_("VAT rate"), max_length=4, choices=VAT_CHOICES, default="23")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("extra cost")
        verbose_name_plural = _("extra costs")

    def __str__(self) -> str:
        return self.name
