"""Invoice pages: the list, a draft's form with its lines (htmx adds and removes lines and keeps the
totals live), the invoice page with its one main next step (issue → send → mark paid), the PDF, and
Settings → Invoices. Views are thin: reads through crm.core.selectors, writes through the services."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from crm.core import search, selectors
from crm.core.forms import add_service_errors, initial_for, record_form_class, values_from_form
from crm.core.money import portal_currency
from crm.core.record_views import forbidden
from crm.deals.models import Deal
from crm.invoices import services
from crm.invoices.models import (
    VAT_RATE_CHOICES,
    Frequency,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    NumberingSeries,
    Reset,
)
from crm.invoices.pdf import invoice_pdf
from identity.members import permissions
from identity.members.decorators import portal_admin_required

PAGE_SIZE = 50
HEADER_FIELDS = ["kind", "company", "contact", "deal", "buyer_name", "buyer_nip", "buyer_address", "buyer_email",
                 "sale_date", "payment_term_days", "payment_method", "bank_account", "currency", "language", "notes"]
TABS = [("all", gettext_lazy("All")), ("draft", gettext_lazy("Drafts")), ("unpaid", gettext_lazy("Unpaid")),
        ("overdue", gettext_lazy("Overdue")), ("paid", gettext_lazy("Paid"))]
TAB_STATUSES = {"draft": [InvoiceStatus.DRAFT], "unpaid": list(services.UNPAID), "overdue": [InvoiceStatus.OVERDUE],
                "paid": [InvoiceStatus.PAID]}
BADGES = {InvoiceStatus.DRAFT: "", InvoiceStatus.ISSUED: "info", InvoiceStatus.SENT: "info",
          InvoiceStatus.PAID: "ok", InvoiceStatus.OVERDUE: "danger", InvoiceStatus.CANCELLED: "warn"}


def _member_of(request: HttpRequest):
    if not request.member:
        raise PermissionDenied
    return request.member


def _invoice(request: HttpRequest, pk: int, action: str = "read") -> Invoice:
    return selectors.record_for(_member_of(request), "invoice", pk, action=action)


# -- list ---------------------------------------------------------------------------------------

@login_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    member = _member_of(request)
    tab = request.GET.get("tab") if request.GET.get("tab") in dict(TABS) else "all"
    query = request.GET.get("q", "").strip()[:200]
    invoices = selectors.records(member, "invoice")
    if tab in TAB_STATUSES:
        invoices = invoices.filter(status__in=TAB_STATUSES[tab])
    if query and search.search_terms(query):
        invoices = search.search_records(invoices, query)
    else:
        invoices = invoices.order_by("-issue_date", "-created_at", "-id")
    page = Paginator(invoices, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "invoices/list.html", {
        "tabs": TABS, "tab": tab, "query": query, "page": page,
        "rows": [(invoice, BADGES.get(invoice.status, "")) for invoice in page.object_list],
        "can_create": permissions.can(member, "invoice", "create", creating=True)})


# -- the draft form with lines ------------------------------------------------------------------

LANGUAGES = [("", gettext_lazy("The portal's language")), ("pl", "Polski"), ("en", "English")]


def _header_form_class(member):
    base = record_form_class("invoice", only=HEADER_FIELDS, with_custom=False, actor=member)
    if "language" not in base.base_fields:
        return base
    language = forms.ChoiceField(label=base.base_fields["language"].label, choices=LANGUAGES, required=False,
                                 help_text=gettext_lazy("The language of the PDF."))
    return type(base.__name__, (base,), {"language": language})


def _posted_lines(data) -> list[dict]:
    names = data.getlist("line_name")
    columns = {key: data.getlist(f"line_{key}") for key in ("quantity", "unit", "unit_price", "discount_percent",
                                                             "vat_rate")}
    lines = []
    for index, name in enumerate(names):
        line = {"name": name} | {key: (values[index] if index < len(values) else "") for key, values in columns.items()}
        if any(str(value).strip() for key, value in line.items() if key not in ("vat_rate", "unit", "quantity")):
            lines.append(line)
    return lines


def _line_rows(lines: list[dict], errors: dict | None = None) -> tuple[list[dict], object]:
    """Rows for the form with their amounts where they can be computed, and the totals."""
    rows, computable = [], []
    for index, line in enumerate(lines):
        row = dict(line) | {"errors": [message for key, messages in (errors or {}).items()
                                       if key.startswith(f"lines.{index}.") for message in messages]}
        try:
            [cleaned] = services.clean_lines([line | {"name": line.get("name") or "-"}])
            computable.append(cleaned)
            row["amounts"] = services.amounts_of([cleaned])[0][0].amounts
        except ValidationError:
            row["amounts"] = None
        rows.append(row)
    return rows, services.amounts_of(computable)[1]


def _empty_line() -> dict:
    return {"name": "", "quantity": "1", "unit": "szt.", "unit_price": "", "discount_percent": "0", "vat_rate": "23"}


def _lines_of(invoice: Invoice) -> list[dict]:
    return [{"name": line.name, "quantity": f"{line.quantity.normalize():f}", "unit": line.unit,
             "unit_price": f"{line.unit_price:.2f}", "discount_percent": f"{line.discount_percent.normalize():f}",
             "vat_rate": line.vat_rate} for line in invoice.lines.all()]


def _apply_op(lines: list[dict], op: str) -> list[dict]:
    if op == "add":
        return [*lines, _empty_line()]
    if op.startswith("remove-") and op[7:].isdigit():
        index = int(op[7:])
        return [line for position, line in enumerate(lines) if position != index] or [_empty_line()]
    return lines


def _prefill(member, params) -> dict:
    """``?deal=<id>`` or ``?company=<id>`` / ``?contact=<id>``: the buyer (and the deal's value as a line)."""
    initial: dict = {"kind": params.get("kind") if params.get("kind") in InvoiceKind.values else InvoiceKind.VAT}
    defaults = services.invoice_settings()
    initial |= {"payment_term_days": defaults.payment_term_days, "bank_account": defaults.bank_account,
                "currency": portal_currency()}
    lines = [_empty_line()]
    for name in ("deal", "company", "contact"):
        value = params.get(name, "")
        if not value.isdigit():
            continue
        record = selectors.record_for(member, name, int(value))
        initial[name] = record.pk
        if isinstance(record, Deal):
            initial["currency"] = record.currency
            if record.company_id:
                initial["company"] = record.company_id
            if record.value:
                lines = [_empty_line() | {"name": record.title, "unit_price": f"{record.value:.2f}"}]
    return {"initial": initial, "lines": lines}


def _form_page(request, *, form, lines, invoice=None, errors=None, status=200) -> HttpResponse:
    rows, totals = _line_rows(lines, errors)
    return render(request, "invoices/form.html", {
        "form": form, "invoice": invoice, "rows": rows, "totals": totals, "rates": VAT_RATE_CHOICES,
        "line_errors": [message for key, messages in (errors or {}).items() if key == "lines" for message in messages],
        "currency": form["currency"].value() or (invoice.currency if invoice else "")}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def invoice_new(request: HttpRequest) -> HttpResponse:
    member = _member_of(request)
    if not permissions.can(member, "invoice", "create", creating=True):
        return forbidden(request, permissions.NotPermitted(entity_code="invoice", action="create"))
    form_class = _header_form_class(member)
    if request.method == "GET":
        prefill = _prefill(member, request.GET)
        return _form_page(request, form=form_class(initial=prefill["initial"]), lines=prefill["lines"])
    return _save(request, member, form_class, None)


@login_required
@require_http_methods(["GET", "POST"])
def invoice_edit(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member_of(request)
    try:
        invoice = _invoice(request, pk, action="edit")
    except permissions.NotPermitted as error:
        return forbidden(request, error)
    if invoice.status != InvoiceStatus.DRAFT:
        messages.info(request, _("An issued invoice cannot be changed; cancel it and issue a new one."))
        return redirect(f"/crm/invoices/{invoice.pk}/")
    form_class = _header_form_class(member)
    if request.method == "GET":
        return _form_page(request, form=form_class(initial=initial_for(invoice, form_class)),
                          lines=_lines_of(invoice) or [_empty_line()], invoice=invoice)
    return _save(request, member, form_class, invoice)


def _save(request, member, form_class, invoice: Invoice | None) -> HttpResponse:
    form = form_class(request.POST)
    lines = _posted_lines(request.POST)
    op = request.POST.get("op", "")
    if op:  # add or remove a line without JavaScript: the same page again, nothing saved
        form.is_valid()
        return _form_page(request, form=form, lines=_apply_op(lines, op), invoice=invoice)
    errors = None
    if form.is_valid():
        values = values_from_form(form)
        try:
            if not lines:
                raise ValidationError({"lines": [_("Add at least one line.")]})
            if invoice is None:
                invoice = services.create_invoice(actor=member, values=values, lines=lines)
            else:
                invoice = services.update_invoice(actor=member, invoice=invoice, values=values, lines=lines)
        except permissions.NotPermitted as error:
            return forbidden(request, error)
        except ValidationError as error:
            errors = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
            add_service_errors(form, ValidationError({key: value for key, value in errors.items()
                                                      if not key.startswith("lines")}))
        else:
            if request.POST.get("then") == "issue":
                return _issue(request, member, invoice)
            messages.success(request, _("Saved."))
            return redirect(f"/crm/invoices/{invoice.pk}/")
    return _form_page(request, form=form, lines=lines or [_empty_line()], invoice=invoice, errors=errors, status=400)


@login_required
@require_POST
def invoice_lines(request: HttpRequest) -> HttpResponse:
    """htmx: the lines and totals again after a change, an added or a removed line."""
    _member_of(request)
    lines = _apply_op(_posted_lines(request.POST), request.POST.get("op", ""))
    rows, totals = _line_rows(lines or [_empty_line()])
    template = "invoices/_totals.html" if request.GET.get("part") == "totals" else "invoices/_lines.html"
    return render(request, template, {"rows": rows, "totals": totals, "rates": VAT_RATE_CHOICES, "oob": True,
                                      "currency": request.POST.get("currency", "")})


# -- the invoice page and its steps -------------------------------------------------------------

class PaymentForm(forms.Form):
    amount = forms.DecimalField(label=gettext_lazy("Amount paid"), max_digits=14, decimal_places=2, required=False,
                                min_value=Decimal("0.01"), localize=True)


class RecurringForm(forms.Form):
    frequency = forms.ChoiceField(label=gettext_lazy("Repeat"), choices=Frequency.choices)
    next_issue_date = forms.DateField(label=gettext_lazy("Next invoice on"),
                                      widget=forms.DateInput(attrs={"type": "date"}))
    send_email = forms.BooleanField(label=gettext_lazy("E-mail it to the buyer"), required=False, initial=True)


class SendForm(forms.Form):
    to = forms.EmailField(label=gettext_lazy("To"), required=False)


@login_required
def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member_of(request)
    invoice = _invoice(request, pk)
    rows, totals = services.amounts_of(list(invoice.lines.all()))
    can_edit = permissions.can(member, "invoice", "edit", owner=invoice.owner)
    return render(request, "invoices/detail.html", {
        "invoice": invoice, "rows": rows, "totals": totals, "can_edit": can_edit,
        "badge": BADGES.get(invoice.status, ""), "unpaid": invoice.status in services.UNPAID,
        "pay_form": PaymentForm(initial={"amount": invoice.balance}),
        "send_form": SendForm(initial={"to": services.recipient_of(invoice)}),
        "vat_invoices": list(invoice.vat_invoices.filter(deleted_at__isnull=True)),
        "reminders": list(invoice.reminders.order_by("sent_at")),
        "plans": list(invoice.recurrences.filter(active=True)),
        "recurring_form": RecurringForm(initial={"next_issue_date": _next_month(invoice)}),
        "can_convert": invoice.kind == InvoiceKind.PROFORMA and invoice.status not in (
            InvoiceStatus.DRAFT, InvoiceStatus.CANCELLED)})


def _step(request: HttpRequest, pk: int, run) -> HttpResponse:
    member = _member_of(request)
    invoice = _invoice(request, pk)
    try:
        result = run(member, invoice)
    except permissions.NotPermitted as error:
        return forbidden(request, error)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect(f"/crm/invoices/{invoice.pk}/")
    return redirect(f"/crm/invoices/{getattr(result, 'pk', invoice.pk)}/")


def _issue(request, member, invoice) -> HttpResponse:
    try:
        invoice = services.issue_invoice(actor=member, invoice=invoice)
    except permissions.NotPermitted as error:
        return forbidden(request, error)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("Invoice %(number)s issued.") % {"number": invoice.number})
    return redirect(f"/crm/invoices/{invoice.pk}/")


@login_required
@require_POST
def invoice_issue(request: HttpRequest, pk: int) -> HttpResponse:
    return _issue(request, _member_of(request), _invoice(request, pk))


@login_required
@require_POST
def invoice_send(request: HttpRequest, pk: int) -> HttpResponse:
    form = SendForm(request.POST)
    to = form.cleaned_data.get("to", "") if form.is_valid() else ""
    if not form.is_valid():
        messages.error(request, _("Enter a valid e-mail address."))
        return redirect(f"/crm/invoices/{pk}/")

    def run(member, invoice):
        sent = services.send_invoice(actor=member, invoice=invoice, to=to)
        messages.success(request, _("The invoice is on its way to %(to)s.") % {"to": to or services.recipient_of(sent)})
        return sent
    return _step(request, pk, run)


@login_required
@require_POST
def invoice_pay(request: HttpRequest, pk: int) -> HttpResponse:
    form = PaymentForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("amount", []):
            messages.error(request, error)
        return redirect(f"/crm/invoices/{pk}/")

    def run(member, invoice):
        paid = services.mark_paid(actor=member, invoice=invoice, amount=form.cleaned_data.get("amount"))
        messages.success(request, _("Payment recorded."))
        return paid
    return _step(request, pk, run)


def _next_month(invoice: Invoice):
    from dateutil.relativedelta import relativedelta
    from django.utils import timezone

    return (invoice.issue_date or timezone.localdate()) + relativedelta(months=1)


@login_required
@require_POST
def invoice_recurring(request: HttpRequest, pk: int) -> HttpResponse:
    """Repeat this invoice: a copy is issued on each date (and e-mailed if asked) by the daily job."""
    form = RecurringForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(f"/crm/invoices/{pk}/")

    def run(member, invoice):
        plan = services.make_recurring(actor=member, invoice=invoice, **form.cleaned_data)
        messages.success(request, _("The next invoice will be issued on %(date)s.") % {
            "date": plan.next_issue_date.isoformat()})
        return invoice
    return _step(request, pk, run)


@login_required
@require_POST
def invoice_recurring_stop(request: HttpRequest, pk: int, plan: int) -> HttpResponse:
    def run(member, invoice):
        services.stop_recurring(actor=member, invoice=invoice, plan_id=plan)
        messages.success(request, _("This invoice is no longer repeated."))
        return invoice
    return _step(request, pk, run)


@login_required
@require_POST
def invoice_convert(request: HttpRequest, pk: int) -> HttpResponse:
    return _step(request, pk, lambda member, invoice: services.convert_proforma(actor=member, proforma=invoice))


@login_required
@require_POST
def invoice_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _step(request, pk, lambda member, invoice: services.cancel_invoice(actor=member, invoice=invoice))


@login_required
def invoice_pdf_download(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    disposition = "inline" if request.GET.get("inline") else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{services.pdf_filename(invoice)}"'
    return response


# -- Settings → Invoices ------------------------------------------------------------------------

def _days(value: str) -> list[int]:
    parts = [part.strip() for part in (value or "").replace(";", ",").split(",") if part.strip()]
    if not all(part.isdigit() and 0 < int(part) <= 365 for part in parts):
        raise forms.ValidationError(_("Give whole numbers of days between 1 and 365, separated by commas."))
    return sorted({int(part) for part in parts})


class InvoiceSettingsForm(forms.Form):
    vat_pattern = forms.CharField(label=gettext_lazy("VAT invoice numbers"), max_length=60,
                                  help_text=gettext_lazy("{year}, {month} and {n} (the running number; {n:04} pads it "
                                                         "to 4 digits), e.g. FV/{year}/{month}/{n:04}."))
    vat_reset = forms.ChoiceField(label=gettext_lazy("Start VAT invoice numbers again from 1"), choices=Reset.choices)
    proforma_pattern = forms.CharField(label=gettext_lazy("Pro-forma invoice numbers"), max_length=60,
                                       help_text=gettext_lazy("e.g. PRO/{year}/{n:04}"))
    proforma_reset = forms.ChoiceField(label=gettext_lazy("Start pro-forma numbers again from 1"),
                                       choices=Reset.choices)
    payment_term_days = forms.IntegerField(label=gettext_lazy("Payment term (days)"), min_value=0, max_value=365)
    reminder_days = forms.CharField(label=gettext_lazy("Payment reminders"), required=False,
                                    help_text=gettext_lazy("Days after the due date, separated by commas, e.g. 3, 10. "
                                                           "Empty: no reminders."))
    bank_account = forms.CharField(label=gettext_lazy("Bank account"), max_length=40, required=False)
    bank_name = forms.CharField(label=gettext_lazy("Bank"), max_length=120, required=False)
    seller_name = forms.CharField(label=gettext_lazy("Seller name"), max_length=250, required=False,
                                  help_text=gettext_lazy("Empty: the portal's billing details."))
    seller_nip = forms.CharField(label=gettext_lazy("Seller NIP"), max_length=13, required=False)
    seller_address = forms.CharField(label=gettext_lazy("Seller address"), required=False,
                                     widget=forms.Textarea(attrs={"rows": 2}))

    def clean_reminder_days(self):
        return _days(self.cleaned_data.get("reminder_days", ""))

    def clean_seller_nip(self):
        return "".join(ch for ch in self.cleaned_data.get("seller_nip", "") if ch.isdigit())

    def clean(self):
        data = super().clean()
        for name in ("vat_pattern", "proforma_pattern"):
            if data.get(name):
                try:
                    data[name] = services.clean_pattern(data[name])
                except ValidationError as error:
                    self.add_error(name, error.message_dict["pattern"])
        return data


@portal_admin_required
@require_http_methods(["GET", "POST"])
def invoice_settings(request: HttpRequest) -> HttpResponse:
    defaults = services.invoice_settings()
    vat, proforma = services.series_of(InvoiceKind.VAT), services.series_of(InvoiceKind.PROFORMA)
    initial = {"vat_pattern": vat.pattern, "vat_reset": vat.reset, "proforma_pattern": proforma.pattern,
               "proforma_reset": proforma.reset, "payment_term_days": defaults.payment_term_days,
               "reminder_days": ", ".join(str(day) for day in defaults.reminder_days or []),
               "bank_account": defaults.bank_account, "bank_name": defaults.bank_name,
               "seller_name": defaults.seller_name, "seller_nip": defaults.seller_nip,
               "seller_address": defaults.seller_address}
    form = InvoiceSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.save_settings(
            series={InvoiceKind.VAT: (data["vat_pattern"], data["vat_reset"]),
                    InvoiceKind.PROFORMA: (data["proforma_pattern"], data["proforma_reset"])},
            values={name: data[name] for name in ("payment_term_days", "reminder_days", "bank_account", "bank_name",
                                                  "seller_name", "seller_nip", "seller_address")})
        messages.success(request, _("Saved."))
        return redirect("/settings/crm/invoices/")
    next_numbers = [(series, NumberingSeries.objects.get(pk=series.pk)) for series in (vat, proforma)]
    return render(request, "invoices/settings.html", {"form": form, "series": next_numbers,
                                                      "examples": _examples(vat, proforma)},
                  status=400 if form.errors else 200)


def _examples(*series_list) -> list[tuple[str, str]]:
    from django.utils import timezone

    today = timezone.localdate()
    examples = []
    for series in series_list:
        period = services._period(series.reset, today)
        n = series.next_number if period == series.period else 1
        examples.append((series.get_kind_display(), services.format_number(series.pattern, year=today.year,
                                                                             month=today.month, n=n)))
    return examples

