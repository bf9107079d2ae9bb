"""Invoices over the API and on the generic record pages: create with lines, issue, send, pay,
convert, the PDF; another portal's invoice is 404 (the PDF too)."""

from __future__ import annotations

import io

import pytest
from django_tenants.utils import tenant_context
from pypdf import PdfReader

from crm.contacts.models import Company
from crm.invoices import services
from identity.members.models import Membership

pytestmark = pytest.mark.django_db

BUYER = "Przedsiębiorstwo Usługowe Źródło sp. z o.o."
LINES = [{"name": "Abonament „Kompas”", "quantity": "2", "unit": "mies.", "unit_price": "250.00", "vat_rate": "23"},
         {"name": "Szkolenie", "quantity": "1", "unit_price": "100", "discount_percent": "50", "vat_rate": "8"}]


def _company(portal):
    with tenant_context(portal.tenant):
        return Company.objects.create(name=BUYER, nip="5260001246", city="Kraków",
                                      emails=[{"value": "biuro@zrodlo.pl"}]).pk


def test_the_invoice_flow_through_the_api(portal_a, smtp_inbox, django_capture_on_commit_callbacks):
    company = _company(portal_a)
    client = portal_a.client(logged_in=True)
    created = client.post("/api/v1/invoices/", {"kind": "vat", "company": company, "lines": LINES},
                          content_type="application/json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["buyer_name"] == BUYER and body["status"] == "draft" and body["number"] == ""
    assert (body["total_net"], body["total_vat"], body["total_gross"]) == ("550.00", "119.00", "669.00")
    assert [line["name"] for line in body["lines"]] == [LINES[0]["name"], "Szkolenie"]
    pk = body["id"]
    changed = client.patch(f"/api/v1/invoices/{pk}/", {"lines": LINES[:1], "notes": "Dziękujemy"},
                           content_type="application/json")
    assert changed.status_code == 200, str(changed.json()["error"]["fields"])[:600]
    assert changed.json()["total_gross"] == "615.00"
    issued = client.post(f"/api/v1/invoices/{pk}/issue/", {"issue_date": "2026-11-02"},
                         content_type="application/json")
    assert issued.status_code == 200 and issued.json()["number"] == "FV/2026/11/0001"
    assert issued.json()["due_date"] == "2026-11-16"
    refused = client.patch(f"/api/v1/invoices/{pk}/", {"buyer_name": "Inny"}, content_type="application/json")
    assert refused.status_code == 400 and "buyer_name" in refused.json()["error"]["fields"]
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(f"/api/v1/invoices/{pk}/send/", {}, content_type="application/json")
    assert sent.status_code == 200 and sent.json()["status"] == "sent"
    assert [m["To"] for m in smtp_inbox.messages] == ["biuro@zrodlo.pl"]
    partly = client.post(f"/api/v1/invoices/{pk}/pay/", {"amount": "15.00"}, content_type="application/json")
    assert partly.json()["amount_paid"] == "15.00" and partly.json()["status"] == "sent"
    paid = client.post(f"/api/v1/invoices/{pk}/pay/", {}, content_type="application/json")
    assert paid.json()["status"] == "paid" and paid.json()["amount_paid"] == "615.00"
    pdf = client.get(f"/api/v1/invoices/{pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text().replace("\xa0", " ")
    assert "Faktura VAT nr FV/2026/11/0001" in text and BUYER in text and "615,00 zł" in text
    assert client.get(f"/api/v1/invoices/{pk}/history/").json()["results"]
    listed = client.get("/api/v1/invoices/?q=zrodlo").json()["results"]
    assert [row["id"] for row in listed] == [pk]
    plan = client.post(f"/api/v1/invoices/{pk}/recurring/", {"frequency": "yearly", "next_issue_date": "2027-11-02"},
                       content_type="application/json")
    assert plan.status_code == 201 and plan.json()["next_issue_date"] == "2027-11-02"
    bad = client.post(f"/api/v1/invoices/{pk}/recurring/", {"frequency": "weekly"}, content_type="application/json")
    assert bad.status_code == 400 and {"frequency", "next_issue_date"} <= set(bad.json()["error"]["fields"])


def test_a_proforma_is_converted_through_the_api(portal_a):
    company = _company(portal_a)
    client = portal_a.client(logged_in=True)
    pk = client.post("/api/v1/invoices/", {"kind": "proforma", "company": company, "lines": LINES},
                     content_type="application/json").json()["id"]
    assert client.post(f"/api/v1/invoices/{pk}/convert/").status_code == 400  # a draft cannot be converted
    client.post(f"/api/v1/invoices/{pk}/issue/", {}, content_type="application/json")
    converted = client.post(f"/api/v1/invoices/{pk}/convert/")
    assert converted.status_code == 201
    assert converted.json()["kind"] == "vat" and converted.json()["proforma"] == pk
    assert converted.json()["total_gross"] == "669.00"


def test_another_portals_invoice_is_not_found(portal_a, portal_b):
    with tenant_context(portal_b.tenant):
        admin = Membership.objects.get(user=portal_b.owner)
        other = services.create_invoice(actor=admin, values={"buyer_name": "Beta klient"},
                                        lines=[{"name": "X", "unit_price": "1"}])
        other = services.issue_invoice(actor=admin, invoice=other)
    with tenant_context(portal_a.tenant):
        from crm.invoices.models import Invoice

        Invoice.objects.filter(pk=other.pk).delete()
    client = portal_a.client(logged_in=True)
    for url in [f"/api/v1/invoices/{other.pk}/", f"/api/v1/invoices/{other.pk}/pdf/",
                f"/crm/invoices/{other.pk}/", f"/crm/invoices/{other.pk}/pdf/"]:
        assert client.get(url).status_code == 404, url
    for url in [f"/api/v1/invoices/{other.pk}/issue/", f"/api/v1/invoices/{other.pk}/pay/"]:
        assert client.post(url, {}, content_type="application/json").status_code == 404, url


def test_generic_list_and_record_pages_render(portal_a):
    company = _company(portal_a)
    with tenant_context(portal_a.tenant):
        admin = Membership.objects.get(user=portal_a.owner)
        invoice = services.create_invoice(actor=admin, values={"company": company}, lines=LINES)
    client = portal_a.client(logged_in=True)
    listing = client.get("/crm/invoices/")
    assert listing.status_code == 200 and BUYER in listing.content.decode()
    page = client.get(f"/crm/invoices/{invoice.pk}/")
    assert page.status_code == 200 and BUYER in page.content.decode()
