"""Pro-forma and VAT invoices with per-portal numbering series, Polish VAT, payments, reminders and
recurring invoices (issue 8; seed 000 L1168–1188).

An invoice is a CRM record (history, recycle bin, permissions, search). Its number is given when it
is issued, from the series of its kind, under a row lock (crm.invoices.services.next_number), so two
invoices issued at the same moment never share or skip a number. Seller and buyer data are copied
onto the invoice (a snapshot): changing the company later does not change an issued invoice.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.core.models import Record, SearchDocument, record_indexes


class InvoiceKind(models.TextChoices):
    VAT = "vat", _("VAT invoice")
    PROFORMA = "proforma", _("pro-forma invoice")


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    ISSUED = "issued", _("issued")
    SENT = "sent", _("sent")
    PAID = "paid", _("paid")
    OVERDUE = "overdue", _("overdue")
    CANCELLED = "cancelled", _("cancelled")


class PaymentMethod(models.TextChoices):
    TRANSFER = "transfer", _("bank transfer")
    CASH = "cash", _("cash")
    CARD = "card", _("card")


class Reset(models.TextChoices):
    YEARLY = "yearly", _("every year")
    MONTHLY = "monthly", _("every month")
    NEVER = "never", _("never")


VAT_RATE_CHOICES = [("23", "23%"), ("8", "8%"), ("5", "5%"), ("0", "0%"), ("zw", _("exempt (zw)")),
                    ("np", _("not subject (np)")), ("oo", _("reverse charge (oo)"))]


class NumberingSeries(models.Model):
    """How the invoices of one kind are numbered: ``FV/{year}/{month}/{n:04}`` gives FV/2026/11/0001."""

    kind = models.CharField(_("kind"), max_length=10, choices=InvoiceKind.choices, unique=True)
    pattern = models.CharField(_("number pattern"), max_length=60,
                               help_text=_("{year}, {month} and {n} (the running number; {n:04} pads it to 4 "
                                           "digits), e.g. FV/{year}/{month}/{n:04}."))
    reset = models.CharField(_("start again from 1"), max_length=8, choices=Reset.choices, default=Reset.MONTHLY)
    next_number = models.PositiveIntegerField(_("next number"), default=1)
    # The period the next number belongs to ("2026", "2026-11" or ""); a new period starts from 1.
    period = models.CharField(max_length=7, blank=True)

    class Meta:
        verbose_name = _("numbering series")
        verbose_name_plural = _("numbering series")

    def __str__(self) -> str:
        return self.pattern


class InvoiceSettings(models.Model):
    """The portal's invoicing defaults (one row)."""

    payment_term_days = models.PositiveSmallIntegerField(_("payment term (days)"), default=14,
                                                         validators=[MaxValueValidator(365)])
    reminder_days = ArrayField(models.PositiveSmallIntegerField(), verbose_name=_("reminders (days after due)"),
                               default=list, blank=True)
    bank_account = models.CharField(_("bank account"), max_length=40, blank=True)
    bank_name = models.CharField(_("bank"), max_length=120, blank=True)
    # The seller on invoices; when empty, the portal's billing details (or its name) are used.
    seller_name = models.CharField(_("seller name"), max_length=250, blank=True)
    seller_nip = models.CharField(_("seller NIP"), max_length=10, blank=True)
    seller_address = models.TextField(_("seller address"), blank=True)

    class Meta:
        verbose_name = _("invoice settings")
        verbose_name_plural = _("invoice settings")

    def __str__(self) -> str:
        return "invoice settings"


class Invoice(Record):
    kind = models.CharField(_("kind"), max_length=10, choices=InvoiceKind.choices, default=InvoiceKind.VAT)
    number = models.CharField(_("number"), max_length=60, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    issue_date = models.DateField(_("issue date"), null=True, blank=True)
    sale_date = models.DateField(_("sale date"), null=True, blank=True)
    payment_term_days = models.PositiveSmallIntegerField(_("payment term (days)"), default=14,
                                                         validators=[MaxValueValidator(365)])
    due_date = models.DateField(_("due date"), null=True, blank=True)
    company = models.ForeignKey("crm_contacts.Company", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="invoices", verbose_name=_("buyer (company)"))
    contact = models.ForeignKey("crm_contacts.Contact", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="invoices", verbose_name=_("buyer (contact)"))
    deal = models.ForeignKey("crm_deals.Deal", on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="invoices", verbose_name=_("deal"))
    buyer_name = models.CharField(_("buyer"), max_length=250, blank=True)
    buyer_nip = models.CharField(_("buyer NIP"), max_length=20, blank=True)
    buyer_address = models.TextField(_("buyer address"), blank=True)
    buyer_email = models.EmailField(_("buyer e-mail"), blank=True)
    seller_name = models.CharField(_("seller"), max_length=250, blank=True, editable=False)
    seller_nip = models.CharField(_("seller NIP"), max_length=20, blank=True, editable=False)
    seller_address = models.TextField(_("seller address"), blank=True, editable=False)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    payment_method = models.CharField(_("payment method"), max_length=10, choices=PaymentMethod.choices,
                                      default=PaymentMethod.TRANSFER)
    bank_account = models.CharField(_("bank account"), max_length=40, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True,
                                help_text=_("Language of the PDF; the portal's when empty."))
    total_net = models.DecimalField(_("net total"), max_digits=14, decimal_places=2, default=0, editable=False)
    total_vat = models.DecimalField(_("VAT total"), max_digits=14, decimal_places=2, default=0, editable=False)
    total_gross = models.DecimalField(_("gross total"), max_digits=14, decimal_places=2, default=0, editable=False)
    amount_paid = models.DecimalField(_("amount paid"), max_digits=14, decimal_places=2, default=0, editable=False)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True, editable=False)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True, editable=False)
    proforma = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, editable=False,
                                 related_name="vat_invoices", verbose_name=_("from pro-forma"))
    search_text = models.GeneratedField(
        expression=SearchDocument(F("number"), F("buyer_name"), F("buyer_nip"), F("notes")),
        output_field=models.TextField(), db_persist=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        indexes = [*record_indexes("invoice", "issue_date", "due_date"),
                   models.Index(fields=["status", "due_date"], name="invoice_status_due"),
                   models.Index(fields=["company"], name="invoice_company"),
                   models.Index(fields=["deal"], name="invoice_deal")]
        constraints = [models.UniqueConstraint(fields=["kind", "number"], condition=~models.Q(number=""),
                                               name="invoice_number_unique")]

    def __str__(self) -> str:
        return self.number or str(_("Draft invoice #%(id)s") % {"id": self.pk})

    @property
    def balance(self) -> Decimal:
        return self.total_gross - self.amount_paid


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(_("name"), max_length=300)
    quantity = models.DecimalField(_("quantity"), max_digits=12, decimal_places=3, default=1,
                                   validators=[MinValueValidator(Decimal("0.001"))])
    unit = models.CharField(_("unit"), max_length=20, default="szt.", blank=True)
    unit_price = models.DecimalField(_("net unit price"), max_digits=14, decimal_places=2,
                                     validators=[MinValueValidator(Decimal(0))])
    discount_percent = models.DecimalField(_("discount %"), max_digits=5, decimal_places=2, default=0,
                                           validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))])
    vat_rate = models.CharField(_("VAT rate"), max_length=3, choices=VAT_RATE_CHOICES, default="23")

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class InvoiceReminder(models.Model):
    """A reminder e-mailed for an unpaid invoice, one per step (days after due)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="reminders")
    days_after_due = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["invoice", "days_after_due"], name="invoice_reminder_once")]

    def __str__(self) -> str:
        return f"{self.invoice_id} +{self.days_after_due}"


class Frequency(models.TextChoices):
    MONTHLY = "monthly", _("every month")
    QUARTERLY = "quarterly", _("every quarter")
    YEARLY = "yearly", _("every year")


class RecurringInvoice(models.Model):
    """Issues a copy of ``template`` on ``next_issue_date``, then moves the date on by ``frequency``."""

    template = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="recurrences",
                                 verbose_name=_("template invoice"))
    frequency = models.CharField(_("frequency"), max_length=10, choices=Frequency.choices, default=Frequency.MONTHLY)
    next_issue_date = models.DateField(_("next issue date"))
    active = models.BooleanField(_("active"), default=True)
    send_email = models.BooleanField(_("e-mail to the buyer"), default=True)
    created_by = models.ForeignKey("members.Membership", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    last_issued = models.ForeignKey(Invoice, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["next_issue_date"], condition=models.Q(active=True),
                                name="recurring_invoice_due")]

    def __str__(self) -> str:
        return f"{self.template_id} {self.frequency} {self.next_issue_date}"
