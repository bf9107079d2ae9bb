"""Invoices: Polish VAT per rate, numbering series, issuing, payments, pro-forma → VAT, the PDF text,
the e-mail with the PDF, reminders and recurring invoices, permissions and the API."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django_tenants.utils import tenant_context
from pypdf import PdfReader

from crm.contacts.models import Company
from crm.core.models import ChangeEntry
from crm.invoices import services
from crm.invoices.models import Invoice, InvoiceReminder, InvoiceStatus, NumberingSeries, RecurringInvoice
from crm.invoices.pdf import invoice_pdf
from identity.accounts.models import User
from identity.members.models import Membership, Role
from identity.members.services import add_member, assign

pytestmark = pytest.mark.django_db

BUYER = "Przedsiębiorstwo Usługowe Źródło sp. z o.o."
D = Decimal


@pytest.fixture
def admin(portal_a):
    with tenant_context(portal_a.tenant):
        yield Membership.objects.get(user=portal_a.owner)


@pytest.fixture
def buyer(admin):
    return Company.objects.create(name=BUYER, nip="5260001246", street="ul. Źródlana 7", postal_code="00-950",
                                  city="Łódź", emails=[{"value": "ksiegowosc@zrodlo.pl"}])


MIXED = [
    {"name": "Usługa wdrożeniowa", "quantity": "1", "unit": "usł.", "unit_price": "1000.00", "vat_rate": "23"},
    {"name": "Szkolenie żółtodziobów", "quantity": "3", "unit": "h", "unit_price": "199.99",
     "discount_percent": "10", "vat_rate": "8"},
    {"name": "Książka „Ćwiczenia”", "quantity": "2", "unit": "szt.", "unit_price": "45.50", "vat_rate": "5"},
    {"name": "Kurs zwolniony z VAT", "quantity": "1", "unit": "szt.", "unit_price": "300", "vat_rate": "zw"},
]


def _invoice(admin, buyer, lines=MIXED, **values) -> Invoice:
    return services.create_invoice(actor=admin, values={"company": buyer.pk} | values, lines=lines)


def test_mixed_rates_with_discounts_are_taxed_per_rate(admin, buyer):
    invoice = _invoice(admin, buyer)
    # 23%: 1000.00 → VAT 230.00; 8%: 3 × 199.99 × 0.9 = 539.973 → 539.97 → VAT 43.1976 → 43.20;
    # 5%: 91.00 → 4.55; zw: 300.00 → 0.
    _rows, totals = services.amounts_of(invoice.lines.all())
    assert [(r.vat_rate, r.net, r.vat, r.gross) for r in totals.by_rate] == [
        ("23", D("1000.00"), D("230.00"), D("1230.00")), ("8", D("539.97"), D("43.20"), D("583.17")),
        ("5", D("91.00"), D("4.55"), D("95.55")), ("zw", D("300.00"), D("0.00"), D("300.00"))]
    assert (invoice.total_net, invoice.total_vat, invoice.total_gross) == (D("1930.97"), D("277.75"), D("2208.72"))
    assert invoice.buyer_name == BUYER and invoice.buyer_nip == "5260001246"
    assert invoice.buyer_address == "ul. Źródlana 7\n00-950 Łódź" and invoice.status == InvoiceStatus.DRAFT
    assert invoice.number == "" and invoice.payment_term_days == 14 and invoice.currency == "PLN"


def test_vat_is_rounded_on_the_net_sum_per_rate_not_per_line(admin, buyer):
    # 3 × 0.10 net at 23%: per line 0.023 → 0.02, three lines 0.06; per rate 0.30 × 0.23 = 0.069 → 0.07.
    lines = [{"name": f"Drobiazg {i}", "quantity": "1", "unit_price": "0.10", "vat_rate": "23"} for i in range(3)]
    invoice = _invoice(admin, buyer, lines=lines)
    rows, totals = services.amounts_of(invoice.lines.all())
    assert sum(row.amounts.vat for row in rows) == D("0.06")
    assert totals.vat == D("0.07") and invoice.total_vat == D("0.07") and invoice.total_gross == D("0.37")
    # And the other way: 2 × 0.35 at 8%: per line 0.028 → 0.03, two lines 0.06; per rate 0.70 × 0.08 = 0.056 → 0.06;
    # 3 × 0.35: per line 0.09, per rate 1.05 × 0.08 = 0.084 → 0.08.
    lines = [{"name": f"Pozycja {i}", "quantity": "1", "unit_price": "0.35", "vat_rate": "8"} for i in range(3)]
    rows, totals = services.amounts_of(_invoice(admin, buyer, lines=lines).lines.all())
    assert sum(row.amounts.vat for row in rows) == D("0.09") and totals.vat == D("0.08")
    # Half up at the grosz (not to even): 0.50 net at 5% = 0.025 → 0.03.
    lines = [{"name": "Pół grosza", "quantity": "1", "unit_price": "0.50", "vat_rate": "5"}]
    rows, totals = services.amounts_of(_invoice(admin, buyer, lines=lines).lines.all())
    assert totals.vat == D("0.03") and totals.gross == D("0.53")
    # Discount applied to the line before rounding: 3 × 33.33 − 15% = 84.9915 → 84.99.
    lines = [{"name": "Z rabatem", "quantity": "3", "unit_price": "33.33", "discount_percent": "15", "vat_rate": "23"}]
    rows, totals = services.amounts_of(_invoice(admin, buyer, lines=lines).lines.all())
    assert rows[0].amounts.net == D("84.99") and totals.vat == D("19.55") and totals.gross == D("104.54")


def test_lines_are_checked_with_errors_named_by_line(admin, buyer):
    with pytest.raises(ValidationError) as refused:
        _invoice(admin, buyer, lines=[{"name": "", "unit_price": "x", "vat_rate": "22"}])
    assert {"lines.0.unit_price", "lines.0.vat_rate"} <= set(refused.value.message_dict)


def test_a_number_is_given_on_issue_per_series_and_restarts_each_month(admin, buyer):
    draft = _invoice(admin, buyer)
    assert draft.number == ""
    first = services.issue_invoice(actor=admin, invoice=draft, issue_date=datetime.date(2026, 11, 5))
    second = services.issue_invoice(actor=admin, invoice=_invoice(admin, buyer), issue_date=datetime.date(2026, 11, 9))
    proforma = services.issue_invoice(actor=admin, invoice=_invoice(admin, buyer, kind="proforma"),
                                      issue_date=datetime.date(2026, 11, 9))
    december = services.issue_invoice(actor=admin, invoice=_invoice(admin, buyer),
                                      issue_date=datetime.date(2026, 12, 1))
    assert [first.number, second.number, december.number] == ["FV/2026/11/0001", "FV/2026/11/0002",
                                                                "FV/2026/12/0001"]
    assert proforma.number == "PRO/2026/0001"
    assert first.due_date == datetime.date(2026, 11, 19) and first.sale_date == datetime.date(2026, 11, 5)
    assert first.status == InvoiceStatus.ISSUED and first.seller_name  # the portal's name without billing details
    with pytest.raises(ValidationError):  # November is closed once December has numbers
        services.issue_invoice(actor=admin, invoice=_invoice(admin, buyer), issue_date=datetime.date(2026, 11, 30))
    with pytest.raises(ValidationError):
        services.issue_invoice(actor=admin, invoice=first)
    assert ChangeEntry.objects.filter(entity="invoice", record_id=first.pk, field="number",
                                      new_value="FV/2026/11/0001").exists()


def test_yearly_and_never_resets(admin, buyer):
    NumberingSeries.objects.filter(kind="proforma").update(pattern="PF-{n}", reset="never")
    a = services.issue_invoice(actor=admin, invoice=_invoice(admin, buyer, kind="proforma"),
                               issue_date=datetime.date(2026, 12, 30))
    b = services.issue_invoice(actor=admin, invoice=_invoice(admin, buyer, kind="proforma"),
                               issue_date=datetime.date(2027, 1, 2))
    assert (a.number, b.number) == ("PF-1", "PF-2")
    NumberingSeries.objects.filter(kind="vat").update(pattern="{n:03}/{year}", reset="yearly")
    c = services.issue_invoice(actor=admin, invoice=_invoice(admin, buyer), issue_date=datetime.date(2026, 12, 30))
    d = services.issue_invoice(actor=admin, invoice=_invoice(admin, buyer), issue_date=datetime.date(2027, 1, 2))
    assert (c.number, d.number) == ("001/2026", "001/2027")
    with pytest.raises(ValidationError):
        services.clean_pattern("FV/{year}")
    with pytest.raises(ValidationError):
        services.clean_pattern("FV/{rok}/{n}")


def test_an_issued_invoice_is_frozen_but_notes_may_change(admin, buyer):
    invoice = services.issue_invoice(actor=admin, invoice=_invoice(admin, buyer))
    with pytest.raises(ValidationError) as refused:
        services.update_invoice(actor=admin, invoice=invoice, values={"buyer_name": "Ktoś inny"})
    assert "buyer_name" in refused.value.message_dict
    with pytest.raises(ValidationError):
        services.update_invoice(actor=admin, invoice=invoice, values={}, lines=MIXED[:1])
    services.update_invoice(actor=admin, invoice=invoice, values={"notes": "Zapłacono gotówką?"})


def test_payments_partial_then_full(admin, buyer):
    invoice = services.issue_invoice(actor=admin, invoice=_invoice(admin, buyer))
    invoice = services.mark_paid(actor=admin, invoice=invoice, amount="1000,00")
    assert invoice.amount_paid == D("1000.00") and invoice.status == InvoiceStatus.ISSUED
    with pytest.raises(ValidationError):
        services.mark_paid(actor=admin, invoice=invoice, amount="5000")
    invoice = services.mark_paid(actor=admin, invoice=invoice)
    assert invoice.amount_paid == D("2208.72") and invoice.status == InvoiceStatus.PAID and invoice.paid_at
    with pytest.raises(ValidationError):
        services.mark_paid(actor=admin, invoice=invoice)


def test_a_proforma_becomes_a_vat_invoice_with_its_lines(admin, buyer):
    proforma = services.issue_invoice(actor=admin, invoice=_invoice(admin, buyer, kind="proforma"))
    services.mark_paid(actor=admin, invoice=proforma)
    vat = services.convert_proforma(actor=admin, proforma=proforma)
    assert vat.kind == "vat" and vat.proforma_id == proforma.pk and vat.status == InvoiceStatus.DRAFT
    assert [line.name for line in vat.lines.all()] == [line["name"] for line in MIXED]
    assert vat.total_gross == proforma.total_gross and vat.buyer_nip == "5260001246"
    vat = services.issue_invoice(actor=admin, invoice=vat)
    assert vat.number.startswith("FV/") and vat.status == InvoiceStatus.PAID  # paid on the pro-forma
    with pytest.raises(ValidationError):
        services.convert_proforma(actor=admin, proforma=proforma)
    with pytest.raises(ValidationError):
        services.convert_proforma(actor=admin, proforma=vat)
    text = _pdf_text(vat)
    assert "Do faktury pro forma nr " + proforma.number in text


def _pdf_text(invoice) -> str:
    reader = PdfReader(io.BytesIO(invoice_pdf(invoice)))
    return "\n".join(page.extract_text() for page in reader.pages).replace("\xa0", " ").replace("\u202f", " ")


def test_the_pdf_is_a_polish_vat_invoice(admin, buyer):
    lines = [{"name": "Usługa wdrożeniowa", "quantity": "1", "unit": "usł.", "unit_price": "1003.71",
              "vat_rate": "23"}]
    invoice = services.issue_invoice(actor=admin, invoice=_invoice(admin, buyer, lines=lines,
                                                                   bank_account="PL61 1090 1014 0000 0712 1981 2874"),
                                     issue_date=datetime.date(2026, 11, 3))
    text = _pdf_text(invoice)
    for expected in ["Faktura VAT nr FV/2026/11/0001", BUYER, "NIP: 5260001246", "Usługa wdrożeniowa",
                     "Lp.", "Nazwa", "Ilość", "J.m.", "Cena netto", "Rabat", "Wartość netto", "Stawka VAT",
                     "Kwota VAT", "Wartość brutto", "Razem", "1 003,71", "230,85", "1 234,56 zł",
                     "Do zapłaty: 1 234,56 zł", "przelew", "2026-11-17", "PL61 1090 1014 0000 0712 1981 2874",
                     "Łódź", "Data wystawienia", "2026-11-03"]:
        assert expected in text, expected


def test_the_pdf_lists_each_rate_and_english_on_request(admin, buyer):
    invoice = services.issue_invoice(actor=admin, invoice=_invoice(admin, buyer, kind="proforma", language="en"),
                                     issue_date=datetime.date(2026, 11, 3))
    text = _pdf_text(invoice)
    assert "Pro forma invoice no. PRO/2026/0001" in text and "Amount due" in text and "exempt" in text
    for line in MIXED:
        assert line["name"] in text
    for figure in ["1,000.00", "230.00", "539.97", "43.20", "91.00", "4.55", "300.00", "2,208.72"]:
        assert figure in text, figure


def test_sending_e_mails_the_pdf_to_the_buyer_after_commit(admin, buyer, smtp_inbox,
                                                           django_capture_on_commit_callbacks):
    invoice = services.issue_invoice(actor=admin, invoice=_invoice(admin, buyer))
    with django_capture_on_commit_callbacks(execute=True):
        invoice = services.send_invoice(actor=admin, invoice=invoice)
    assert invoice.status == InvoiceStatus.SENT and invoice.sent_at
    [message] = smtp_inbox.messages
    assert message["To"] == "ksiegowosc@zrodlo.pl" and invoice.number in message["Subject"]
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == invoice.number.replace("/", "_") + ".pdf"
    assert "Faktura VAT" in PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text()
    with pytest.raises(ValidationError):
        services.send_invoice(actor=admin, invoice=_invoice(admin, buyer))  # a draft


def test_reminders_once_per_step_and_overdue(admin, buyer, smtp_inbox, django_capture_on_commit_callbacks):
    settings = services.invoice_settings()
    settings.reminder_days = [3, 10]
    settings.save()
    invoice = services.issue_invoice(actor=admin, invoice=_invoice(admin, buyer), issue_date=datetime.date(2026, 11, 1))
    paid = services.mark_paid(actor=admin, invoice=services.issue_invoice(
        actor=admin, invoice=_invoice(admin, buyer), issue_date=datetime.date(2026, 11, 1)))
    due = invoice.due_date
    with django_capture_on_commit_callbacks(execute=True):
        assert services.send_reminders(today=due) == 0
        assert services.send_reminders(today=due + datetime.timedelta(days=1)) == 0
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OVERDUE and not smtp_inbox.messages
    with django_capture_on_commit_callbacks(execute=True):
        assert services.send_reminders(today=due + datetime.timedelta(days=3)) == 1
        assert services.send_reminders(today=due + datetime.timedelta(days=4)) == 0
        assert services.send_reminders(today=due + datetime.timedelta(days=10)) == 1
        assert services.send_reminders(today=due + datetime.timedelta(days=30)) == 0
    assert len(smtp_inbox.messages) == 2
    assert all(invoice.number in message["Subject"] for message in smtp_inbox.messages)
    assert all(message.get_content_type() == "multipart/mixed" for message in smtp_inbox.messages)
    assert sorted(InvoiceReminder.objects.filter(invoice=invoice).values_list("days_after_due", flat=True)) == [3, 10]
    assert not InvoiceReminder.objects.filter(invoice=paid).exists()
    paid.refresh_from_db()
    assert paid.status == InvoiceStatus.PAID


def test_recurring_invoices_are_issued_when_due(admin, buyer, smtp_inbox, django_capture_on_commit_callbacks):
    template = _invoice(admin, buyer, lines=MIXED[:1])
    plan = services.make_recurring(actor=admin, invoice=template, frequency="monthly",
                                   next_issue_date=datetime.date(2026, 11, 30))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.issue_recurring(today=datetime.date(2026, 11, 29)) == []
        [issued] = services.issue_recurring(today=datetime.date(2026, 11, 30))
        assert services.issue_recurring(today=datetime.date(2026, 11, 30)) == []
    plan.refresh_from_db()
    assert plan.next_issue_date == datetime.date(2026, 12, 30) and plan.last_issued_id == issued.pk
    assert issued.number == "FV/2026/11/0001" and issued.status == InvoiceStatus.SENT
    assert issued.total_gross == D("1230.00") and issued.pk != template.pk
    assert len(smtp_inbox.messages) == 1
    quarterly = RecurringInvoice.objects.create(template=template, frequency="quarterly",
                                                next_issue_date=datetime.date(2026, 11, 30), send_email=False)
    with django_capture_on_commit_callbacks(execute=True):
        assert len(services.issue_recurring(today=datetime.date(2027, 1, 1))) == 2  # monthly and quarterly
    quarterly.refresh_from_db()
    assert quarterly.next_issue_date == datetime.date(2027, 2, 28)


def test_a_member_without_invoice_rights_is_refused(admin, buyer, portal_a):
    user = User.objects.create_user(email="handlowiec@alfa.pl", password=None, full_name="Handlowiec")
    role = Role.objects.create(name="Bez faktur")
    member = assign(membership=add_member(user=user), role=role)
    with pytest.raises(PermissionDenied):
        _invoice(member, buyer)
    invoice = _invoice(admin, buyer)
    with pytest.raises(PermissionDenied):
        services.issue_invoice(actor=member, invoice=invoice)
    with pytest.raises(PermissionDenied):
        services.mark_paid(actor=member, invoice=invoice)
