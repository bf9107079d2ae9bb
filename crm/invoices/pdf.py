"""The invoice as a PDF (weasyprint, DejaVu Sans for Polish letters), in the invoice's language.

The document's words are the legal terms of a Polish invoice ("Faktura VAT nr", "Stawka VAT",
"Do zapłaty"), fixed per document language here rather than left to the UI translations: an
invoice in Polish must say exactly this whatever state the catalogue is in. Other languages get the
English document.
"""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import translation

from crm.invoices.models import Invoice, InvoiceKind
from crm.invoices.services import amounts_of, language_of

LABELS = {
    "pl": {"vat_title": "Faktura VAT nr", "proforma_title": "Faktura pro forma nr", "draft": "(szkic)",
           "for_proforma": "Do faktury pro forma nr", "issue_date": "Data wystawienia", "sale_date": "Data sprzedaży",
           "due_date": "Termin płatności", "seller": "Sprzedawca", "buyer": "Nabywca", "nip": "NIP", "no": "Lp.",
           "name": "Nazwa", "qty": "Ilość", "unit": "J.m.", "net_price": "Cena netto", "discount": "Rabat",
           "net": "Wartość netto", "rate": "Stawka VAT", "vat": "Kwota VAT", "gross": "Wartość brutto",
           "total": "Razem", "due": "Do zapłaty", "paid": "Zapłacono", "method": "Sposób płatności",
           "account": "Numer konta", "days": "dni", "issued_by": "Osoba upoważniona do wystawienia",
           "received_by": "Osoba upoważniona do odbioru", "zw": "zw", "np": "np", "oo": "oo",
           "methods": {"transfer": "przelew", "cash": "gotówka", "card": "karta"}},
    "en": {"vat_title": "VAT invoice no.", "proforma_title": "Pro forma invoice no.", "draft": "(draft)",
           "for_proforma": "For pro forma invoice no.", "issue_date": "Issue date", "sale_date": "Date of sale",
           "due_date": "Due date", "seller": "Seller", "buyer": "Buyer", "nip": "VAT ID (NIP)", "no": "No.",
           "name": "Description", "qty": "Qty", "unit": "Unit", "net_price": "Net unit price", "discount": "Discount",
           "net": "Net amount", "rate": "VAT rate", "vat": "VAT amount", "gross": "Gross amount",
           "total": "Total", "due": "Amount due", "paid": "Paid", "method": "Payment method",
           "account": "Bank account", "days": "days", "issued_by": "Issued by", "received_by": "Received by",
           "zw": "exempt", "np": "n/a", "oo": "reverse charge",
           "methods": {"transfer": "bank transfer", "cash": "cash", "card": "card"}},
}


def labels_for(language: str) -> dict:
    return LABELS.get((language or "pl")[:2], LABELS["en"])


def rate_label(rate: str, labels: dict) -> str:
    return f"{rate}%" if rate.isdigit() else labels[rate]


def invoice_context(invoice: Invoice) -> dict:
    labels = labels_for(language_of(invoice))
    rows, totals = amounts_of(list(invoice.lines.all()))
    rates = [(rate, rate_label(rate.vat_rate, labels)) for rate in totals.by_rate]
    return {"invoice": invoice, "rows": [(row, rate_label(row.line.vat_rate, labels)) for row in rows],
            "totals": totals, "rates": rates, "L": labels, "method": labels["methods"].get(invoice.payment_method, ""),
            "title": labels["proforma_title" if invoice.kind == InvoiceKind.PROFORMA else "vat_title"],
            "balance": totals.gross - invoice.amount_paid}


def invoice_html(invoice: Invoice) -> str:
    with translation.override(language_of(invoice)):
        return render_to_string("invoices/pdf.html", invoice_context(invoice))


def invoice_pdf(invoice: Invoice) -> bytes:
    from weasyprint import HTML

    return HTML(string=invoice_html(invoice)).write_pdf()
