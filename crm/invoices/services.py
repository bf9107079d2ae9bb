"""Writing invoices: drafts with lines, issuing (number from the series under a row lock), sending the
PDF by e-mail, payments, pro-forma → VAT, reminders for unpaid invoices and recurring invoices.

Record fields go through crm.core.services (permissions, history); lines and the workflow steps are
here, each one transaction. Amounts come from crm.products.pricing (VAT per rate from the net sum).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from dateutil.relativedelta import relativedelta
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.contacts.models import Company, Contact
from crm.core import history, services
from crm.core.models import ChangeEntry, ChangeKind
from crm.core.money import clean_currency, portal_currency
from crm.invoices.models import (
    Frequency,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceReminder,
    InvoiceSettings,
    InvoiceStatus,
    NumberingSeries,
    RecurringInvoice,
    Reset,
)
from crm.products.pricing import VAT_RATES, DocumentTotals, LineAmounts, document_totals, line_amounts
from identity.members import permissions

DEFAULT_PATTERNS = {InvoiceKind.VAT: ("FV/{year}/{month}/{n:04}", Reset.MONTHLY),
                    InvoiceKind.PROFORMA: ("PRO/{year}/{n:04}", Reset.YEARLY)}
UNPAID = (InvoiceStatus.ISSUED, InvoiceStatus.SENT, InvoiceStatus.OVERDUE)
# What may still change on an issued invoice; the rest is what the buyer received.
CHANGEABLE_WHEN_ISSUED = {"owner", "tags", "notes", "deal", "buyer_email", "language"}


# -- settings and series ------------------------------------------------------------------------

def invoice_settings() -> InvoiceSettings:
    found = InvoiceSettings.objects.order_by("pk").first()
    return found or InvoiceSettings.objects.create(reminder_days=[3, 10])


def series_of(kind: str) -> NumberingSeries:
    pattern, reset = DEFAULT_PATTERNS[InvoiceKind(kind)]
    series, _created = NumberingSeries.objects.get_or_create(kind=kind, defaults={"pattern": pattern, "reset": reset})
    return series


@transaction.atomic
def save_settings(*, series: dict, values: dict) -> InvoiceSettings:
    """Settings → Invoices: the two series' patterns and resets, the payment term, reminders, bank, seller."""
    for kind, (pattern, reset) in series.items():
        found = NumberingSeries.objects.select_for_update().get(pk=series_of(kind).pk)
        found.pattern, found.reset = clean_pattern(pattern), reset
        found.save(update_fields=["pattern", "reset"])
    defaults = invoice_settings()
    for name, value in values.items():
        setattr(defaults, name, value)
    defaults.full_clean()
    defaults.save()
    return defaults


def format_number(pattern: str, *, year: int, month: int, n: int) -> str:
    return pattern.format(year=year, month=f"{month:02d}", n=n)


def clean_pattern(pattern: str) -> str:
    pattern = (pattern or "").strip()
    if not re.search(r"\{n(:0?\d+)?\}", pattern):
        raise ValidationError({"pattern": [_("The pattern must contain {n}, the running number, e.g. "
                                             "FV/{year}/{month}/{n:04}.")]})
    try:
        format_number(pattern, year=2026, month=1, n=1)
    except (KeyError, ValueError, IndexError):
        raise ValidationError({"pattern": [_("Use only {year}, {month} and {n} (or {n:04}) in the pattern.")]}) \
            from None
    return pattern


def _period(reset: str, day: datetime.date) -> str:
    if reset == Reset.YEARLY:
        return f"{day.year:04d}"
    if reset == Reset.MONTHLY:
        return f"{day.year:04d}-{day.month:02d}"
    return ""


def next_number(kind: str, day: datetime.date) -> str:
    """The next number of the series of ``kind`` for an invoice issued on ``day``. The series row is
    locked (SELECT … FOR UPDATE) until the caller's transaction ends, so numbers are never shared
    or skipped: a rolled-back issue gives its number back."""
    series_of(kind)
    series = NumberingSeries.objects.select_for_update().get(kind=kind)
    period = _period(series.reset, day)
    if period != series.period:
        if series.period and period < series.period:
            message = _("Invoices of %(period)s have already been numbered; the issue date cannot be in an "
                        "earlier period.") % {"period": series.period}
            raise ValidationError({"issue_date": [message]})
        series.period, series.next_number = period, 1
    number = format_number(series.pattern, year=day.year, month=day.month, n=series.next_number)
    series.next_number += 1
    series.save(update_fields=["period", "next_number"])
    return number


# -- amounts ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    line: InvoiceLine
    amounts: LineAmounts


def amounts_of(lines) -> tuple[list[Line], DocumentTotals]:
    rows = [Line(line, line_amounts(quantity=line.quantity, unit_price=line.unit_price,
                                    discount_percent=line.discount_percent, vat_rate=line.vat_rate))
            for line in lines]
    return rows, document_totals([(row.line.vat_rate, row.amounts) for row in rows])


def _decimal(value, field: str, errors: dict, index: int, default=None):
    if value in (None, "") and default is not None:
        return Decimal(default)
    try:
        return Decimal(str(value).replace(",", ".").replace(" ", "").replace("\xa0", ""))
    except (InvalidOperation, ValueError):
        errors[f"lines.{index}.{field}"] = [_("Enter a number.")]
        return Decimal(0)


def clean_lines(items: list[dict]) -> list[InvoiceLine]:
    """Lines from plain values; errors keyed ``lines.<index>.<field>``."""
    lines, errors = [], {}
    for index, item in enumerate(items or []):
        line = InvoiceLine(position=index, name=(item.get("name") or "").strip(),
                           quantity=_decimal(item.get("quantity"), "quantity", errors, index, default="1"),
                           unit=(item.get("unit") or "").strip(),
                           unit_price=_decimal(item.get("unit_price"), "unit_price", errors, index),
                           discount_percent=_decimal(item.get("discount_percent"), "discount_percent", errors,
                                                     index, default="0"),
                           vat_rate=str(item.get("vat_rate") or "23"))
        if line.vat_rate not in VAT_RATES:
            errors[f"lines.{index}.vat_rate"] = [_("Choose one of the Polish VAT rates.")]
            continue
        try:
            line.full_clean(exclude=["invoice"])
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                errors.setdefault(f"lines.{index}.{name}", messages)
        lines.append(line)
    if errors:
        raise ValidationError(errors)
    return lines


def _save_lines(invoice: Invoice, lines: list[InvoiceLine]) -> None:
    invoice.lines.all().delete()
    for line in lines:
        line.invoice = invoice
        line.pk = None
    InvoiceLine.objects.bulk_create(lines)
    _, totals = amounts_of(lines)
    invoice.total_net, invoice.total_vat, invoice.total_gross = totals.net, totals.vat, totals.gross
    Invoice.objects.filter(pk=invoice.pk).update(total_net=totals.net, total_vat=totals.vat,
                                                 total_gross=totals.gross)


# -- records ------------------------------------------------------------------------------------

def _address(party) -> str:
    first = party.street
    second = " ".join(part for part in (party.postal_code, party.city) if part)
    return "\n".join(part for part in (first, second) if part)


def _first_email(party) -> str:
    for item in party.emails or []:
        value = item.get("value") if isinstance(item, dict) else item
        if value:
            return value
    return ""


def buyer_values(*, company: Company | None = None, contact: Contact | None = None) -> dict:
    """The buyer snapshot of a company (or of a person without a company)."""
    if company is not None:
        return {"buyer_name": company.name, "buyer_nip": company.nip, "buyer_address": _address(company),
                "buyer_email": _first_email(company) or (contact and _first_email(contact)) or ""}
    if contact is not None:
        return {"buyer_name": contact.full_name, "buyer_nip": "", "buyer_address": _address(contact),
                "buyer_email": _first_email(contact)}
    return {}


def prepare_invoice(values: dict, record: Invoice | None, actor) -> dict:
    """The registry's rule for invoices: defaults, the buyer snapshot, and an issued invoice's frozen fields."""
    if record is not None and record.status != InvoiceStatus.DRAFT:
        frozen = sorted(name for name in set(values) - CHANGEABLE_WHEN_ISSUED
                        if str(getattr(record, name + ("_id" if name in {"company", "contact"} else ""), "")) !=
                        str(getattr(values[name], "pk", values[name]) if values[name] is not None else ""))
        if frozen:
            message = _("An issued invoice cannot be changed; cancel it and issue a new one.")
            raise ValidationError({name: [message] for name in frozen})
    if record is None:
        defaults = invoice_settings()
        values.setdefault("payment_term_days", defaults.payment_term_days)
        values.setdefault("bank_account", defaults.bank_account)
    if "currency" in values or record is None:
        values["currency"] = clean_currency(values.get("currency"))
    buyer_changed = any(name in values for name in ("company", "contact"))
    if buyer_changed and not (values.get("buyer_name") or "").strip():
        company = _live(Company, values.get("company"), "company")
        contact = _live(Contact, values.get("contact"), "contact")
        if company is None and contact is not None and contact.company_id:
            company = Company.objects.filter(pk=contact.company_id, deleted_at__isnull=True).first()
        values = buyer_values(company=company, contact=contact) | {k: v for k, v in values.items() if v not in ("",)}
    if "buyer_nip" in values:
        values["buyer_nip"] = re.sub(r"[\s-]", "", values["buyer_nip"] or "")
    return values


def _live(model, value, field: str):
    if value in (None, ""):
        return None
    found = model.objects.filter(pk=getattr(value, "pk", value), deleted_at__isnull=True).first()
    if found is None:
        raise ValidationError({field: [_("The chosen record does not exist.")]})
    return found


@transaction.atomic
def create_invoice(*, actor, values: dict, lines: list[dict]) -> Invoice:
    cleaned = clean_lines(lines)
    invoice = services.create_record(actor=actor, code="invoice", values=values)
    _save_lines(invoice, cleaned)
    return invoice


@transaction.atomic
def update_invoice(*, actor, invoice: Invoice, values: dict, lines: list[dict] | None = None) -> Invoice:
    if lines is not None and invoice.status != InvoiceStatus.DRAFT:
        raise ValidationError({"lines": [_("An issued invoice cannot be changed; cancel it and issue a new one.")]})
    cleaned = clean_lines(lines) if lines is not None else None
    invoice = services.update_record(actor=actor, record=invoice, values=values)
    if cleaned is not None:
        before = _lines_text(invoice)
        _save_lines(invoice, cleaned)
        entries = history.record_changes(actor=actor, entity="invoice", record=invoice, before={"lines": before},
                                         after={"lines": _lines_text(invoice)})
        for entry in entries:  # "lines" is a relation, not a field with a verbose name
            entry.field_label = _("Lines")
        ChangeEntry.objects.bulk_update(entries, ["field_label"])
    return invoice


def _lines_text(invoice: Invoice) -> str:
    return "; ".join(f"{line.name} × {line.quantity.normalize():f}" for line in invoice.lines.all())


def _seller() -> dict:
    defaults = invoice_settings()
    if defaults.seller_name:
        return {"seller_name": defaults.seller_name, "seller_nip": defaults.seller_nip,
                "seller_address": defaults.seller_address}
    from billing.models import BillingDetails

    tenant = connection.tenant
    details = BillingDetails.objects.filter(tenant_id=getattr(tenant, "pk", None)).first()
    if details is not None:
        return {"seller_name": details.company_name, "seller_nip": details.nip,
                "seller_address": f"{details.street}\n{details.postal_code} {details.city}".strip()}
    return {"seller_name": getattr(tenant, "name", ""), "seller_nip": "", "seller_address": ""}


def _locked(invoice: Invoice, actor, action: str = "edit") -> Invoice:
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.deleted_at is not None:
        raise ValidationError(_("This record is in the recycle bin; restore it before changing it."))
    if actor is not None:
        permissions.require(actor, "invoice", action, owner=locked.owner)
    return locked


def _save_step(actor, invoice: Invoice, before: dict, fields: list[str]) -> Invoice:
    invoice.save(update_fields=[*fields, "updated_at"])
    history.record_changes(actor=actor, entity="invoice", record=invoice, before=before,
                           after=history.snapshot(invoice))
    return invoice


@transaction.atomic
def issue_invoice(*, actor, invoice: Invoice, issue_date: datetime.date | None = None) -> Invoice:
    """Give the draft its number and dates and freeze it. ``actor`` None: the system (recurring invoices)."""
    locked = _locked(invoice, actor)
    if locked.status != InvoiceStatus.DRAFT:
        raise ValidationError(_("This invoice has already been issued."))
    if not locked.lines.exists():
        raise ValidationError({"lines": [_("Add at least one line before issuing the invoice.")]})
    if not locked.buyer_name.strip():
        raise ValidationError({"buyer_name": [_("Say who the buyer is before issuing the invoice.")]})
    before = history.snapshot(locked)
    day = issue_date or locked.issue_date or timezone.localdate()
    locked.issue_date = day
    locked.sale_date = locked.sale_date or day
    locked.due_date = day + datetime.timedelta(days=locked.payment_term_days)
    locked.number = next_number(locked.kind, day)
    for name, value in _seller().items():
        setattr(locked, name, value)
    locked.currency = locked.currency or portal_currency()
    locked.status = InvoiceStatus.PAID if locked.total_gross and locked.amount_paid >= locked.total_gross \
        else InvoiceStatus.ISSUED
    return _save_step(actor, locked, before, ["issue_date", "sale_date", "due_date", "number", "seller_name",
                                              "seller_nip", "seller_address", "currency", "status"])


@transaction.atomic
def cancel_invoice(*, actor, invoice: Invoice) -> Invoice:
    locked = _locked(invoice, actor)
    if locked.status in (InvoiceStatus.PAID, InvoiceStatus.CANCELLED):
        raise ValidationError(_("A paid or cancelled invoice cannot be cancelled."))
    before = history.snapshot(locked)
    locked.status = InvoiceStatus.CANCELLED
    return _save_step(actor, locked, before, ["status"])


@transaction.atomic
def mark_paid(*, actor, invoice: Invoice, amount=None, paid_at: datetime.datetime | None = None) -> Invoice:
    """Record a payment: the whole balance when no amount is given; paid when nothing is left to pay."""
    locked = _locked(invoice, actor)
    if locked.status not in UNPAID:
        raise ValidationError(_("Only an issued, unpaid invoice can be paid."))
    balance = locked.total_gross - locked.amount_paid
    try:
        amount = balance if amount in (None, "") else Decimal(str(amount).replace(",", ".")).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValidationError({"amount": [_("Enter an amount.")]}) from None
    if amount <= 0:
        raise ValidationError({"amount": [_("The amount must be more than zero.")]})
    if amount > balance:
        raise ValidationError({"amount": [_("That is more than the %(balance)s left to pay.") % {"balance": balance}]})
    before = history.snapshot(locked)
    locked.amount_paid += amount
    if locked.amount_paid >= locked.total_gross:
        locked.status, locked.paid_at = InvoiceStatus.PAID, paid_at or timezone.now()
    return _save_step(actor, locked, before, ["amount_paid", "status", "paid_at"])


@transaction.atomic
def convert_proforma(*, actor, proforma: Invoice) -> Invoice:
    """A draft VAT invoice with the pro-forma's buyer and lines, linked to it (and what was paid on it)."""
    locked = _locked(proforma, actor, action="read")
    if locked.kind != InvoiceKind.PROFORMA:
        raise ValidationError(_("Only a pro-forma invoice can be turned into a VAT invoice."))
    if locked.status in (InvoiceStatus.DRAFT, InvoiceStatus.CANCELLED):
        raise ValidationError(_("Issue the pro-forma invoice first."))
    if locked.vat_invoices.filter(deleted_at__isnull=True).exists():
        raise ValidationError(_("A VAT invoice has already been made from this pro-forma."))
    values = _copy_values(locked) | {"kind": InvoiceKind.VAT}
    invoice = create_invoice(actor=actor, values=values, lines=_copy_lines(locked))
    Invoice.objects.filter(pk=invoice.pk).update(proforma=locked, amount_paid=locked.amount_paid)
    invoice.proforma, invoice.amount_paid = locked, locked.amount_paid
    history.record_event(actor=actor, entity="invoice", record_id=invoice.pk, kind=ChangeKind.CONVERTED,
                         note=_("from pro-forma %(number)s") % {"number": locked.number})
    return invoice


COPIED = ("company", "contact", "deal", "buyer_name", "buyer_nip", "buyer_address", "buyer_email", "currency",
          "payment_method", "payment_term_days", "bank_account", "notes", "language", "owner")


def _copy_values(source: Invoice) -> dict:
    values = {name: getattr(source, name + "_id") if name in {"company", "contact", "deal", "owner"}
              else getattr(source, name) for name in COPIED}
    return {name: value for name, value in values.items() if value is not None}


def _copy_lines(source: Invoice) -> list[dict]:
    return [{"name": line.name, "quantity": line.quantity, "unit": line.unit, "unit_price": line.unit_price,
             "discount_percent": line.discount_percent, "vat_rate": line.vat_rate} for line in source.lines.all()]


# -- e-mail -------------------------------------------------------------------------------------

def language_of(invoice: Invoice) -> str:
    return invoice.language or getattr(connection.tenant, "language", "") or "pl"


def pdf_filename(invoice: Invoice) -> str:
    return (re.sub(r"[^\w.-]+", "_", invoice.number or f"draft-{invoice.pk}") + ".pdf")


def recipient_of(invoice: Invoice) -> str:
    if invoice.buyer_email:
        return invoice.buyer_email
    for party in (invoice.company, invoice.contact):
        if party is not None and _first_email(party):
            return _first_email(party)
    return ""


@transaction.atomic
def send_invoice(*, actor, invoice: Invoice, to: str = "") -> Invoice:
    """E-mail the PDF to the buyer after the transaction commits; an issued invoice becomes "sent"."""
    locked = _locked(invoice, actor)
    if locked.status in (InvoiceStatus.DRAFT, InvoiceStatus.CANCELLED):
        raise ValidationError(_("Issue the invoice before sending it."))
    to = (to or recipient_of(locked)).strip()
    if not to:
        raise ValidationError({"to": [_("The buyer has no e-mail address; give one.")]})
    before = history.snapshot(locked)
    locked.sent_at = timezone.now()
    if locked.status == InvoiceStatus.ISSUED:
        locked.status = InvoiceStatus.SENT
    _save_step(actor, locked, before, ["sent_at", "status"])
    pk = locked.pk
    transaction.on_commit(lambda: _email_invoice(pk, to))
    return locked


def _email_invoice(pk: int, to: str, *, reminder_days: int | None = None) -> None:
    from crm.invoices.pdf import invoice_pdf

    invoice = Invoice.objects.get(pk=pk)
    tenant_name = getattr(connection.tenant, "name", "")
    with translation.override(language_of(invoice)):
        kind = _("Pro-forma invoice") if invoice.kind == InvoiceKind.PROFORMA else _("VAT invoice")
        amount = f"{invoice.balance:.2f} {invoice.currency}"
        if reminder_days is None:
            subject = _("%(kind)s %(number)s from %(seller)s") % {"kind": kind, "number": invoice.number,
                                                                  "seller": invoice.seller_name or tenant_name}
            body = _("Hello,\n\nplease find attached %(kind)s %(number)s for %(amount)s, payable by %(due)s.\n\n"
                     "Kind regards,\n%(seller)s\n")
        else:
            subject = _("Reminder: invoice %(number)s is overdue") % {"number": invoice.number}
            body = _("Hello,\n\nwe have not yet received payment of %(amount)s for %(kind)s %(number)s, which was "
                     "due on %(due)s. Please pay it or let us know if it has already been paid. The invoice is "
                     "attached.\n\nKind regards,\n%(seller)s\n")
        body = body % {"kind": kind.lower(), "number": invoice.number, "amount": amount,
                       "due": invoice.due_date.isoformat() if invoice.due_date else "",
                       "seller": invoice.seller_name or tenant_name}
        pdf = invoice_pdf(invoice)
    message = EmailMessage(subject, body, django_settings.DEFAULT_FROM_EMAIL, [to])
    message.attach(pdf_filename(invoice), pdf, "application/pdf")
    message.send()


# -- jobs: reminders and recurring invoices -----------------------------------------------------

def portal_today() -> datetime.date:
    """Today in the portal's time zone (jobs run outside a request, in UTC)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(getattr(connection.tenant, "time_zone", "") or "Europe/Warsaw")
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    return timezone.localdate(timezone=zone)


def send_reminders(*, today: datetime.date | None = None) -> int:
    """Mark unpaid invoices past their due date overdue and e-mail a reminder for each step of the
    portal's reminder days that has come, once per step (InvoiceReminder rows). Returns e-mails sent."""
    today = today or portal_today()
    steps = sorted(set(invoice_settings().reminder_days or []))
    sent = 0
    candidates = Invoice.objects.alive().filter(status__in=UNPAID, due_date__lt=today).select_related(
        "company", "contact").order_by("pk")
    for invoice in candidates:
        with transaction.atomic():
            locked = Invoice.objects.select_for_update(skip_locked=True).filter(pk=invoice.pk,
                                                                                status__in=UNPAID).first()
            if locked is None:
                continue
            if locked.status != InvoiceStatus.OVERDUE:
                before = history.snapshot(locked)
                locked.status = InvoiceStatus.OVERDUE
                _save_step(None, locked, before, ["status"])
            late = (today - locked.due_date).days
            due_steps = [step for step in steps if step <= late]
            done = set(locked.reminders.values_list("days_after_due", flat=True))
            new_steps = [step for step in due_steps if step not in done]
            to = recipient_of(invoice)
            if not new_steps or not to:
                continue
            # Several steps come due at once only when the job did not run for a while: one e-mail, all recorded.
            InvoiceReminder.objects.bulk_create([InvoiceReminder(invoice=locked, days_after_due=step)
                                                 for step in new_steps])
            history.record_event(actor=None, entity="invoice", record_id=locked.pk, kind=ChangeKind.UPDATED,
                                 note=_("Payment reminder sent to %(to)s (%(days)s days after due)")
                                 % {"to": to, "days": new_steps[-1]})
            pk, step = locked.pk, new_steps[-1]
            transaction.on_commit(lambda pk=pk, to=to, step=step: _email_invoice(pk, to, reminder_days=step))
            sent += 1
    return sent


STEP = {Frequency.MONTHLY: relativedelta(months=1), Frequency.QUARTERLY: relativedelta(months=3),
        Frequency.YEARLY: relativedelta(years=1)}


def issue_recurring(*, today: datetime.date | None = None) -> list[Invoice]:
    """Issue every active recurring invoice whose date has come: dated today, sold on the plan's date.
    A plan that fell behind catches up one period per run (one a day)."""
    today = today or portal_today()
    issued = []
    due = RecurringInvoice.objects.filter(active=True, next_issue_date__lte=today).order_by("pk")
    for pk in due.values_list("pk", flat=True):
        with transaction.atomic():
            plan = RecurringInvoice.objects.select_for_update(skip_locked=True).select_related("template").filter(
                pk=pk, active=True, next_issue_date__lte=today).first()
            if plan is None or plan.template.deleted_at is not None:
                continue
            invoice = _issue_copy(plan.template, sale_date=plan.next_issue_date, issue_date=today)
            plan.last_issued = invoice
            plan.next_issue_date = plan.next_issue_date + STEP[plan.frequency]
            plan.save(update_fields=["last_issued", "next_issue_date"])
            to = recipient_of(invoice)
            if plan.send_email and to:
                invoice = send_invoice(actor=None, invoice=invoice, to=to)
            issued.append(invoice)
    return issued


def _issue_copy(template: Invoice, *, sale_date: datetime.date, issue_date: datetime.date) -> Invoice:
    """A copy of the template, issued today for the period that came due (its sale date)."""
    values = _copy_values(template)
    invoice = Invoice(kind=template.kind, sale_date=sale_date, created_by=None)
    for name, value in values.items():
        setattr(invoice, name + ("_id" if name in {"company", "contact", "deal", "owner"} else ""), value)
    invoice.save()
    _save_lines(invoice, clean_lines(_copy_lines(template)))
    history.record_event(actor=None, entity="invoice", record_id=invoice.pk, kind=ChangeKind.CREATED,
                         note=_("recurring, from %(template)s") % {"template": str(template)})
    return issue_invoice(actor=None, invoice=invoice, issue_date=issue_date)


@transaction.atomic
def make_recurring(*, actor, invoice: Invoice, frequency: str, next_issue_date: datetime.date,
                   send_email: bool = True) -> RecurringInvoice:
    locked = _locked(invoice, actor)
    if locked.status == InvoiceStatus.CANCELLED:
        raise ValidationError(_("A cancelled invoice cannot be repeated."))
    if frequency not in Frequency.values:
        raise ValidationError({"frequency": [_("Choose how often.")]})
    return RecurringInvoice.objects.create(template=invoice, frequency=frequency, next_issue_date=next_issue_date,
                                           send_email=send_email, created_by=actor if actor else None)


@transaction.atomic
def stop_recurring(*, actor, invoice: Invoice, plan_id: int) -> None:
    _locked(invoice, actor)
    RecurringInvoice.objects.filter(pk=plan_id, template=invoice).update(active=False)


def subtitle(invoice: Invoice) -> str:
    parts = [invoice.buyer_name, invoice.get_status_display()]
    return ", ".join(str(part) for part in parts if part)
