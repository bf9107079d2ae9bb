"""Invoice pages: list, the draft form with lines (htmx lines and totals), the invoice page and its
steps, the PDF download, Settings → Invoices; rights, another portal, bad input."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from crm.contacts.models import Company
from crm.core.models import ChangeEntry
from crm.deals.models import Deal, Pipeline
from crm.invoices import services
from crm.invoices.models import Invoice, InvoiceSettings, NumberingSeries
from identity.accounts.models import User
from identity.members.models import Action, Membership, Role, RolePermission, Scope
from identity.members.services import add_member, assign

pytestmark = pytest.mark.django_db
BUYER = "Przedsiębiorstwo Usługowe Źródło sp. z o.o."


@pytest.fixture
def company(portal_a):
    with tenant_context(portal_a.tenant):
        return Company.objects.create(name=BUYER, nip="5260001246", city="Łódź", emails=[{"value": "a@zrodlo.pl"}])


def _make(portal, count: int, company) -> list[Invoice]:
    with tenant_context(portal.tenant):
        admin = Membership.objects.get(user=portal.owner)
        return [services.create_invoice(actor=admin, values={"company": company.pk},
                                        lines=[{"name": f"Usługa {i}", "unit_price": "100"}]) for i in range(count)]


def _text(response) -> str:
    return response.content.decode().replace("\xa0", " ")


def _line_post(**header) -> dict:
    return {"kind": "vat", "payment_term_days": "14", "payment_method": "transfer", "currency": "PLN"} | header | {
        "line_name": ["Wdrożenie", "Szkolenie"], "line_quantity": ["1", "2"], "line_unit": ["usł.", "h"],
        "line_unit_price": ["1000", "150,50"], "line_discount_percent": ["0", "10"], "line_vat_rate": ["23", "8"]}


@pytest.mark.parametrize("count", [3, 30])
def test_the_list_shows_invoices_in_a_bounded_number_of_queries(portal_a, company, count,
                                                                 django_assert_max_num_queries):
    _make(portal_a, count, company)
    client = portal_a.client(logged_in=True)
    with django_assert_max_num_queries(14):
        response = client.get("/crm/invoices/")
    assert response.status_code == 200
    assert response.content.decode().count(BUYER) == count
    assert client.get("/crm/invoices/?tab=paid").content.decode().count(BUYER) == 0
    assert client.get("/crm/invoices/?q=zrodlo").content.decode().count(BUYER) == count


def test_a_new_invoice_from_a_deal_then_saved_and_issued(portal_a, company):
    with tenant_context(portal_a.tenant):
        pipeline = Pipeline.objects.order_by("pk").first()
        deal = Deal.objects.create(title="Wdrożenie CRM", value=4800, currency="PLN", company=company,
                                   pipeline=pipeline, stage=pipeline.stages.order_by("position").first())
    client = portal_a.client(logged_in=True)
    page = _text(client.get(f"/crm/invoices/new/?deal={deal.pk}"))
    assert 'value="Wdrożenie CRM"' in page and 'value="4800.00"' in page and "5 904,00" in page
    response = client.post("/crm/invoices/new/", _line_post(company=str(company.pk), then="issue"))
    assert response.status_code == 302
    with tenant_context(portal_a.tenant):
        invoice = Invoice.objects.get(pk=int(response["Location"].strip("/").split("/")[-1]))
        assert invoice.number.startswith("FV/") and invoice.buyer_name == BUYER
        assert invoice.total_gross == services.amounts_of(invoice.lines.all())[1].gross
        assert ChangeEntry.objects.filter(entity="invoice", record_id=invoice.pk, field="number").exists()
    page = client.get(f"/crm/invoices/{invoice.pk}/").content.decode()
    assert invoice.number in page and BUYER in page and "Wdrożenie" in page and 'action="/crm/invoices/' in page


def test_lines_are_added_removed_and_totalled_by_htmx(portal_a):
    client = portal_a.client(logged_in=True)
    data = _line_post()
    totals = _text(client.post("/crm/invoices/lines/?part=totals", data, HTTP_HX_REQUEST="true"))
    assert "1 522,57 zł" in totals and 'id="line-1-gross" hx-swap-oob="true">292,57' in totals
    added = _text(client.post("/crm/invoices/lines/", data | {"op": "add"}, HTTP_HX_REQUEST="true"))
    # 1000 at 23% → 1230.00; 2 × 150.50 − 10% = 270.90 at 8% → 21.67 VAT → 292.57; together 1 522,57 zł.
    assert added.count('name="line_name"') == 3 and "1 522,57 zł" in added and "292,57" in added
    removed = client.post("/crm/invoices/lines/", data | {"op": "remove-0"}, HTTP_HX_REQUEST="true").content.decode()
    assert removed.count('name="line_name"') == 1 and "Szkolenie" in removed and "Wdrożenie" not in removed
    nojs = client.post("/crm/invoices/new/", data | {"op": "add"})  # without JavaScript: the page again, unsaved
    assert nojs.status_code == 200 and nojs.content.decode().count('name="line_name"') == 3


def test_bad_input_is_shown_by_its_field_and_line(portal_a):
    client = portal_a.client(logged_in=True)
    response = client.post("/crm/invoices/new/", _line_post(payment_term_days="abc") | {
        "line_unit_price": ["x", "10"]})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'class="form-row invalid" data-row="payment_term_days"' in page
    response = client.post("/crm/invoices/new/", _line_post() | {"line_unit_price": ["x", "10"]})
    assert response.status_code == 400 and 'tr class="invalid"' in response.content.decode()
    with tenant_context(portal_a.tenant):
        assert not Invoice.objects.exists()


def test_the_steps_issue_send_pay_convert_and_the_pdf(portal_a, company, smtp_inbox,
                                                      django_capture_on_commit_callbacks):
    [proforma] = _make(portal_a, 1, company)
    client = portal_a.client(logged_in=True)
    with tenant_context(portal_a.tenant):
        Invoice.objects.filter(pk=proforma.pk).update(kind="proforma")
    assert client.post(f"/crm/invoices/{proforma.pk}/issue/").status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/crm/invoices/{proforma.pk}/send/", {"to": ""}).status_code == 302
    assert [m["To"] for m in smtp_inbox.messages] == ["a@zrodlo.pl"]
    assert client.post(f"/crm/invoices/{proforma.pk}/pay/", {"amount": "23,00"}).status_code == 302
    pdf = client.get(f"/crm/invoices/{proforma.pk}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    converted = client.post(f"/crm/invoices/{proforma.pk}/convert/")
    with tenant_context(portal_a.tenant):
        proforma.refresh_from_db()
        assert proforma.number.startswith("PRO/") and proforma.amount_paid == 23
        vat = Invoice.objects.get(proforma=proforma)
    assert converted["Location"] == f"/crm/invoices/{vat.pk}/"
    page = client.get(f"/crm/invoices/{vat.pk}/").content.decode()
    assert proforma.number in page
    # A step that is not possible says why on the page.
    client.post(f"/crm/invoices/{vat.pk}/send/", {"to": ""}, follow=True)
    again = client.post(f"/crm/invoices/{proforma.pk}/convert/", follow=True).content.decode()
    assert 'role="alert"' in again or "alert" in again or "VAT" in again


def test_a_member_with_own_scope_sees_only_own_invoices_and_cannot_step_others(portal_a, company):
    [mine_by_admin] = _make(portal_a, 1, company)
    with tenant_context(portal_a.tenant):
        user = User.objects.create_user(email="own@alfa.pl", password=portal_a.password, full_name="Own")
        role = Role.objects.create(name="Own invoices")
        for action in (Action.READ, Action.CREATE, Action.EDIT):
            RolePermission.objects.create(role=role, entity="invoice", action=action, scope=Scope.OWN)
        member = assign(membership=add_member(user=user), role=role)
        own = services.create_invoice(actor=member, values={"buyer_name": "Moja firma"},
                                      lines=[{"name": "X", "unit_price": "1"}])
    client = portal_a.client()
    with tenant_context(portal_a.tenant):
        assert client.login(username="own@alfa.pl", password=portal_a.password)
    listing = client.get("/crm/invoices/").content.decode()
    assert "Moja firma" in listing and BUYER not in listing
    assert client.get(f"/crm/invoices/{mine_by_admin.pk}/").status_code == 404
    assert client.post(f"/crm/invoices/{mine_by_admin.pk}/issue/").status_code == 404
    assert client.get(f"/crm/invoices/{own.pk}/").status_code == 200
    assert client.get("/settings/crm/invoices/").status_code in (302, 403)


def test_no_rights_to_invoices_is_refused(portal_a):
    with tenant_context(portal_a.tenant):
        user = User.objects.create_user(email="none@alfa.pl", password=portal_a.password, full_name="None")
        assign(membership=add_member(user=user), role=Role.objects.create(name="No invoices"))
    client = portal_a.client()
    with tenant_context(portal_a.tenant):
        assert client.login(username="none@alfa.pl", password=portal_a.password)
    assert client.get("/crm/invoices/new/").status_code == 403
    assert client.post("/crm/invoices/new/", _line_post()).status_code == 403
    assert client.post("/api/v1/invoices/", {"buyer_name": "X"}, content_type="application/json").status_code == 403


def test_posts_on_another_portals_host_are_refused(portal_a, portal_b, company):
    [invoice] = _make(portal_a, 1, company)
    client = portal_a.client(logged_in=True)
    client.defaults["HTTP_HOST"] = portal_b.host
    for url in ["/crm/invoices/new/", f"/crm/invoices/{invoice.pk}/issue/", f"/crm/invoices/{invoice.pk}/pay/",
                "/settings/crm/invoices/"]:
        response = client.post(url, _line_post())
        assert response.status_code in (302, 403, 404), url
        assert response.status_code != 302 or response["Location"].startswith("/auth/login/")
    with tenant_context(portal_a.tenant):
        invoice.refresh_from_db()
        assert invoice.number == ""


def test_settings_change_numbering_payment_term_and_reminders(portal_a):
    client = portal_a.client(logged_in=True)
    page = client.get("/settings/crm/invoices/")
    assert page.status_code == 200 and "FV/{year}/{month}/{n:04}" in page.content.decode()
    data = {"vat_pattern": "F/{n}/{year}", "vat_reset": "yearly", "proforma_pattern": "PRO/{year}/{n:04}",
            "proforma_reset": "yearly", "payment_term_days": "21", "reminder_days": "10, 3",
            "bank_account": "PL61 1090 1014 0000 0712 1981 2874", "bank_name": "", "seller_name": "Alfa sp. z o.o.",
            "seller_nip": "526-000-12-46", "seller_address": "ul. Długa 1\n00-001 Warszawa"}
    bad = client.post("/settings/crm/invoices/", data | {"vat_pattern": "F/{year}", "reminder_days": "trzy"})
    assert bad.status_code == 400 and bad.content.decode().count('role="alert"') >= 2
    assert client.post("/settings/crm/invoices/", data).status_code == 302
    with tenant_context(portal_a.tenant):
        assert NumberingSeries.objects.get(kind="vat").pattern == "F/{n}/{year}"
        saved = InvoiceSettings.objects.get()
        assert (saved.payment_term_days, saved.reminder_days, saved.seller_nip) == (21, [3, 10], "5260001246")
        admin = Membership.objects.get(user=portal_a.owner)
        invoice = services.create_invoice(actor=admin, values={"buyer_name": "K"}, lines=[{"name": "X",
                                                                                           "unit_price": "1"}])
        assert invoice.payment_term_days == 21 and invoice.bank_account.startswith("PL61")
        invoice = services.issue_invoice(actor=admin, invoice=invoice)
        assert invoice.seller_name == "Alfa sp. z o.o." and invoice.number.startswith("F/1/")


def test_an_invoice_is_repeated_from_its_page_and_stopped(portal_a, company):
    [invoice] = _make(portal_a, 1, company)
    client = portal_a.client(logged_in=True)
    response = client.post(f"/crm/invoices/{invoice.pk}/recurring/", {"frequency": "quarterly",
                                                                     "next_issue_date": "2026-12-01"})
    assert response.status_code == 302
    with tenant_context(portal_a.tenant):
        from crm.invoices.models import RecurringInvoice

        plan = RecurringInvoice.objects.get(template=invoice)
        assert (plan.frequency, plan.send_email, plan.active) == ("quarterly", False, True)
    page = client.get(f"/crm/invoices/{invoice.pk}/").content.decode()
    assert f"/recurring/{plan.pk}/stop/" in page
    assert client.post(f"/crm/invoices/{invoice.pk}/recurring/", {"frequency": "weekly"}).status_code == 302
    client.post(f"/crm/invoices/{invoice.pk}/recurring/{plan.pk}/stop/")
    with tenant_context(portal_a.tenant):
        plan.refresh_from_db()
        assert not plan.active and RecurringInvoice.objects.filter(template=invoice).count() == 1


@pytest.mark.parametrize("count", [3, 30])
def test_the_invoice_page_costs_the_same_for_3_and_30_lines(portal_a, company, count,
                                                            django_assert_max_num_queries):
    with tenant_context(portal_a.tenant):
        admin = Membership.objects.get(user=portal_a.owner)
        invoice = services.create_invoice(actor=admin, values={"company": company.pk},
                                          lines=[{"name": f"Pozycja {i}", "unit_price": "10"} for i in range(count)])
    client = portal_a.client(logged_in=True)
    with django_assert_max_num_queries(16):
        page = client.get(f"/crm/invoices/{invoice.pk}/")
    assert page.status_code == 200 and page.content.decode().count("Pozycja ") == count
