"""Quotes end to end: numbering, totals with mixed VAT and discounts, the PDF (text read back with
pypdf), sending by e-mail with the client's link, the client's page (opens, time viewed, accept and
decline moving the deal), forged tokens and other portals, the pages and the API."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_tenants.utils import tenant_context
from pypdf import PdfReader

from crm.activities.models import Activity
from crm.core import services as records
from crm.core.tests.test_api import api_key, key_client, send
from crm.deals.models import Stage, StageKind
from crm.products import services as products
from crm.quotes import services
from crm.quotes.models import Quote, QuoteStatus
from identity.members.models import Membership

pytestmark = pytest.mark.django_db

CLIENT = "Łódzka Hurtownia Żelaza sp. z o.o."


@pytest.fixture(autouse=True)
def _generous_rate_limits(settings):
    settings.API_RATE_PER_KEY = settings.API_RATE_PER_PORTAL = "100000/min"


@pytest.fixture
def admin(portal_a):
    with tenant_context(portal_a.tenant):
        yield Membership.objects.select_related("user").get(user=portal_a.owner)


@pytest.fixture
def deal(admin):
    company = records.create_record(actor=admin, code="company", values={
        "name": CLIENT, "nip": "7251801126", "street": "ul. Piotrkowska 120", "postal_code": "90-006", "city": "Łódź"})
    contact = records.create_record(actor=admin, code="contact", values={
        "first_name": "Żaneta", "last_name": "Ślęzak", "company": company.pk,
        "emails": [{"value": "zaneta.slezak@lhz.pl"}]})
    deal = records.create_record(actor=admin, code="deal", values={
        "title": "Stal zbrojeniowa", "company": company.pk, "contacts": [contact.pk], "value": "0"})
    products.add_deal_product(actor=admin, deal=deal, values={
        "name": "Pręt żebrowany fi 12", "quantity": "3", "unit": "szt.", "unit_price": "199.99",
        "discount_percent": "10", "vat_rate": "23"})
    products.add_deal_product(actor=admin, deal=deal, values={
        "name": "Transport i rozładunek", "quantity": "1", "unit": "usługa", "unit_price": "1000.00", "vat_rate": "8"})
    return deal


def plain(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def test_a_quote_from_a_deal_has_the_next_number_the_deal_currency_client_snapshot_and_lines(admin, deal):
    quote = services.create_from_deal(actor=admin, deal=deal)
    assert re.fullmatch(r"OF/\d{4}/\d{4}", quote.number)
    second = services.create_from_deal(actor=admin, deal=deal)
    assert int(second.number[-4:]) == int(quote.number[-4:]) + 1
    assert quote.currency == deal.currency == "PLN" and quote.status == QuoteStatus.DRAFT
    assert quote.client["company"] == CLIENT and quote.client["email"] == "zaneta.slezak@lhz.pl"
    assert [line.name for line in quote.lines.all()] == ["Pręt żebrowany fi 12", "Transport i rozładunek"]
    assert quote.template is not None and quote.template.is_default


def test_totals_with_mixed_vat_rates_and_discounts_match_the_hand_computed_figures(admin, deal):
    quote = services.create_from_deal(actor=admin, deal=deal)
    t = services.totals_of(quote).totals
    # 3 × 199,99 = 599,97 − 10% = 539,973 → 539,97 net; VAT 23% = 124,1931 → 124,19
    # 1 × 1 000,00 net; VAT 8% = 80,00
    assert [(r.vat_rate, r.net, r.vat, r.gross) for r in t.by_rate] == [
        ("23", Decimal("539.97"), Decimal("124.19"), Decimal("664.16")),
        ("8", Decimal("1000.00"), Decimal("80.00"), Decimal("1080.00"))]
    assert (t.net, t.vat, t.gross) == (Decimal("1539.97"), Decimal("204.19"), Decimal("1744.16"))
    services.add_cost(actor=admin, quote=quote, name="Dostawa", amount="50,00", vat_rate="23")
    records.update_record(actor=admin, record=quote, values={"discount_percent": "5"})
    quote.refresh_from_db()
    summary = services.totals_of(quote)
    # Items −5% more: 539,97 → 3×199,99×0,90×0,95 = 512,97435 → 512,97; 1 000,00 → 950,00; +50,00 delivery at 23%
    t = summary.totals
    assert [(r.vat_rate, r.net, r.vat) for r in t.by_rate] == [
        ("23", Decimal("562.97"), Decimal("129.48")), ("8", Decimal("950.00"), Decimal("76.00"))]
    assert t.gross == Decimal("1718.45")
    assert summary.discount_net == Decimal("77.00")


def test_the_pdf_has_the_client_with_diacritics_each_line_the_vat_summary_and_the_gross_total(admin, deal):
    quote = services.create_from_deal(actor=admin, deal=deal)
    quote = records.update_record(actor=admin, record=quote, values={"payment_terms": "Przelew 14 dni",
                                                                     "delivery_terms": "Dostawa do magazynu w Łodzi"})
    text = plain("\n".join(page.extract_text() for page in PdfReader(io.BytesIO(services.render_pdf(quote))).pages))
    assert CLIENT in text
    assert "Pręt żebrowany fi 12" in text and "Transport i rozładunek" in text
    assert "539,97 zł" in text and "124,19 zł" in text and "1 080,00 zł" in text  # VAT summary per rate
    assert "1 744,16 zł" in text
    assert quote.number in text and "Przelew 14 dni" in text and "Dostawa do magazynu w Łodzi" in text


def test_sending_mails_the_link_and_the_client_opens_views_and_accepts_moving_the_deal_to_won(
        portal_a, admin, deal, smtp_inbox, django_capture_on_commit_callbacks):
    quote = services.create_from_deal(actor=admin, deal=deal)
    with django_capture_on_commit_callbacks(execute=True):
        services.send_quote(actor=admin, quote=quote, base_url=f"http://{portal_a.host}/")
    message = smtp_inbox.wait_for(1)[0]
    assert message["To"] == "zaneta.slezak@lhz.pl" and quote.number in message["Subject"]
    body = next(part for part in message.walk() if part.get_content_type() == "text/plain").get_content()
    link = re.search(r"http://\S+/q/\S+/", body).group(0)
    assert link.startswith(f"http://{portal_a.host}/q/")
    attachments = [part.get_filename() for part in message.walk() if part.get_filename()]
    assert attachments == [services.pdf_filename(quote)]

    path = link.removeprefix(f"http://{portal_a.host}")
    visitor = portal_a.client()
    page = visitor.get(path)
    assert page.status_code == 200 and CLIENT in page.content.decode() and "Accept the quote" in page.content.decode()
    quote.refresh_from_db()
    assert quote.open_count == 1 and quote.status == QuoteStatus.VIEWED and quote.first_opened_at
    visitor.get(path)
    with tenant_context(portal_a.tenant):  # the page has been open for two minutes
        Quote.objects.filter(pk=quote.pk).update(last_opened_at=timezone.now() - timedelta(minutes=2))
    for _beat in range(3):
        assert visitor.post(f"{path}beacon/", {"seconds": "15"}).status_code == 204
    assert visitor.post(f"{path}beacon/", {"seconds": "9999"}).status_code == 204  # capped
    quote.refresh_from_db()
    assert quote.open_count == 2 and quote.seconds_viewed == 45 + services.BEACON_MAX_SECONDS
    pdf = visitor.get(f"{path}pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"

    decided = visitor.post(f"{path}decide/", {"decision": "accept", "comment": "Zamawiamy, proszę o fakturę."})
    assert decided.status_code == 200 and "you accepted this quote" in decided.content.decode()
    quote.refresh_from_db()
    deal.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED and quote.decision_comment == "Zamawiamy, proszę o fakturę."
    assert deal.stage.kind == StageKind.WON
    note = Activity.objects.get(entity="deal", record_id=deal.pk, kind="note")
    assert quote.number in note.body and "Zamawiamy" in note.body
    timeline = portal_a.client(logged_in=True).get(f"/crm/deals/{deal.pk}/").content.decode()
    assert f"quote {quote.number}" in timeline or quote.number in timeline
    again = visitor.post(f"{path}decide/", {"decision": "decline"})
    assert again.status_code == 400
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.ACCEPTED


def test_declining_leaves_the_deal_and_notes_it_and_a_stage_with_requirements_becomes_a_task(admin, deal):
    quote = services.create_from_deal(actor=admin, deal=deal)
    services.send_quote(actor=admin, quote=quote)
    services.decide(quote=quote, accepted=False, comment="Za drogo")
    deal.refresh_from_db()
    assert deal.stage.kind == StageKind.OPEN
    assert "Za drogo" in Activity.objects.get(entity="deal", record_id=deal.pk, kind="note").body

    won = Stage.objects.get(pipeline=deal.pipeline, kind=StageKind.WON)
    won.required_fields = ["expected_close_date"]
    won.save()
    second = services.create_from_deal(actor=admin, deal=deal)
    services.send_quote(actor=admin, quote=second)
    services.decide(quote=second, accepted=True)
    deal.refresh_from_db()
    second.refresh_from_db()
    assert second.status == QuoteStatus.ACCEPTED and deal.stage.kind == StageKind.OPEN
    from crm.tasks.models import TaskLink

    link = TaskLink.objects.select_related("task").get(entity="deal", record_id=deal.pk)
    assert second.number in link.task.title and link.task.owner_id == deal.owner_id


def test_a_forged_or_foreign_token_shows_nothing(portal_a, portal_b, admin, deal):
    quote = services.create_from_deal(actor=admin, deal=deal)
    services.send_quote(actor=admin, quote=quote)
    token = services.public_token(quote)
    visitor = portal_a.client()
    assert visitor.get(f"/q/{token}/").status_code == 200
    forged = signing.dumps([portal_a.tenant.schema_name, quote.pk], salt="something-else")
    for bad in (forged, token[:-2] + "xx", "1", "abc"):
        response = visitor.get(f"/q/{bad}/")
        assert response.status_code == 404 and CLIENT not in response.content.decode()
        assert visitor.post(f"/q/{bad}/decide/", {"decision": "accept"}).status_code == 404
    draft = services.create_from_deal(actor=admin, deal=deal)
    assert visitor.get(f"/q/{services.public_token(draft)}/").status_code == 404  # not sent yet
    on_b = portal_b.client().get(f"/q/{token}/")
    assert on_b.status_code == 404 and CLIENT not in on_b.content.decode()


def test_quote_pages_work_and_portal_b_cannot_reach_portal_a_quotes(portal_a, portal_b, admin, deal):
    client = portal_a.client(logged_in=True)
    created = client.post(f"/crm/deals/{deal.pk}/quotes/new/")
    assert created.status_code == 302
    quote = Quote.objects.get(deal=deal)
    assert created["Location"] == f"/crm/quotes/{quote.pk}/items/"
    items = client.get(f"/crm/quotes/{quote.pk}/items/")
    assert items.status_code == 200 and "1 744,16 zł" in plain(items.content.decode())
    bad = client.post(f"/crm/quotes/{quote.pk}/items/", {"name": "Bez ceny"})
    assert bad.status_code == 400 and "Podaj cenę jednostkową netto." in bad.content.decode()
    added = client.post(f"/crm/quotes/{quote.pk}/items/", {"name": "Gwoździe", "quantity": "10", "unit_price": "2.5"})
    assert added.status_code == 302 and quote.lines.count() == 3
    assert client.post(f"/crm/quotes/{quote.pk}/costs/", {"name": "", "amount": "10"}).status_code == 400
    assert client.post(f"/crm/quotes/{quote.pk}/costs/", {"name": "Dostawa", "amount": "10"}).status_code == 302
    record_page = client.get(f"/crm/quotes/{quote.pk}/")
    assert record_page.status_code == 200 and quote.number in record_page.content.decode()
    assert client.get("/crm/quotes/").status_code == 200
    deal_quotes = client.get(f"/crm/deals/{deal.pk}/quotes/", HTTP_HX_REQUEST="true").content.decode()
    assert quote.number in deal_quotes
    assert f'href="/crm/invoices/new/?deal={deal.pk}"' in deal_quotes
    invoice_form = client.get(f"/crm/invoices/new/?deal={deal.pk}").content.decode()
    assert CLIENT in invoice_form  # the buyer comes from the deal
    pdf = client.get(f"/crm/quotes/{quote.pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    no_email = client.post(f"/crm/quotes/{quote.pk}/send/", {"to": "nie-mail"})
    assert no_email.status_code == 400 and "e-mail" in no_email.content.decode()
    assert client.post(f"/crm/quotes/{quote.pk}/send/", {"to": "zakupy@lhz.pl"}).status_code == 302
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.SENT and quote.sent_to == "zakupy@lhz.pl"

    other = portal_b.client(logged_in=True)
    for path in (f"/crm/quotes/{quote.pk}/", f"/crm/quotes/{quote.pk}/items/", f"/crm/quotes/{quote.pk}/pdf/"):
        assert other.get(path).status_code == 404, path
    assert client.post(f"/crm/quotes/{quote.pk}/items/", {"name": "X", "unit_price": "1"},
                       HTTP_HOST=portal_b.host).status_code in (302, 403, 404)


@pytest.mark.parametrize("rows", [3, 30])
def test_the_items_page_costs_the_same_queries_for_3_and_30_lines(portal_a, admin, rows,
                                                                  django_assert_max_num_queries):
    quote = records.create_record(actor=admin, code="quote", values={"title": f"Oferta {rows}"})
    for n in range(rows):
        services.add_line(actor=admin, quote=quote, values={"name": f"Pozycja {n}", "unit_price": "10"})
    client = portal_a.client(logged_in=True)
    with django_assert_max_num_queries(16):
        assert client.get(f"/crm/quotes/{quote.pk}/items/").status_code == 200


def test_a_decided_quote_cannot_be_changed(admin, deal):
    quote = services.create_from_deal(actor=admin, deal=deal)
    services.send_quote(actor=admin, quote=quote)
    services.decide(quote=quote, accepted=False)
    with pytest.raises(ValidationError):
        services.add_line(actor=admin, quote=quote, values={"name": "X", "unit_price": "1"})
    with pytest.raises(ValidationError):
        records.update_record(actor=admin, record=quote, values={"notes": "zmiana"})


def test_quotes_over_the_api(portal_a, portal_b, admin, deal, smtp_inbox, django_capture_on_commit_callbacks):
    client = key_client(portal_a, api_key(portal_a))
    created = send(client, "post", "/api/v1/quotes/", {"deal": deal.pk, "valid_until": "2099-12-31"})
    assert created.status_code == 201, created.content
    quote = created.json()
    assert quote["number"].startswith("OF/") and len(quote["lines"]) == 2
    assert quote["totals"]["gross"] == "1744.16" and quote["currency"] == "PLN"
    line = send(client, "post", f"/api/v1/quotes/{quote['id']}/lines/", {"name": "Śruby", "unit_price": "1.00",
                                                                        "quantity": "100", "vat_rate": "23"})
    assert line.status_code == 201
    assert send(client, "get", f"/api/v1/quotes/{quote['id']}/").json()["totals"]["gross"] == "1867.16"
    with django_capture_on_commit_callbacks(execute=True):
        sent = send(client, "post", f"/api/v1/quotes/{quote['id']}/send/", {})
    assert sent.status_code == 200 and sent.json()["status"] == "sent" and "/q/" in sent.json()["public_url"]
    assert smtp_inbox.wait_for(1)
    pdf = client.get(f"/api/v1/quotes/{quote['id']}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    listed = send(client, "get", "/api/v1/quotes/").json()
    assert quote["id"] in [row["id"] for row in listed["results"]]
    other = key_client(portal_b, api_key(portal_b))
    assert send(other, "get", f"/api/v1/quotes/{quote['id']}/").status_code == 404
    assert send(other, "post", f"/api/v1/quotes/{quote['id']}/send/", {}).status_code == 404
    assert send(client, "patch", f"/api/v1/quotes/{quote['id']}/", {"number": "X/1"}).status_code == 400


def test_quote_settings_change_the_pdf_and_where_an_accepted_quote_moves_the_deal(portal_a, admin, deal):
    client = portal_a.client(logged_in=True)
    assert client.get("/settings/crm/quotes/").status_code == 200
    negotiation = Stage.objects.get(pipeline=deal.pipeline, position=3)
    bad = client.post("/settings/crm/quotes/", {"name": "Standard", "primary_color": "zielony",
                                                "accent_color": "#4f7cff"})
    assert bad.status_code == 400 and "#rrggbb" in bad.content.decode()
    saved = client.post("/settings/crm/quotes/", {
        "name": "Standard", "header_text": "Dziękujemy za zapytanie ofertowe.",
        "footer_text": "Alfa Handel — NIP 5260001246",
        "primary_color": "#0e7f4f", "accent_color": "#4f7cff", "show_logo": "on", "accepted_stage": negotiation.pk})
    assert saved.status_code == 302
    quote = services.create_from_deal(actor=admin, deal=deal)
    text = plain("\n".join(page.extract_text() for page in PdfReader(io.BytesIO(services.render_pdf(quote))).pages))
    assert "Dziękujemy za zapytanie ofertowe." in text and "NIP 5260001246" in text
    services.send_quote(actor=admin, quote=quote)
    record_page = client.get(f"/crm/quotes/{quote.pk}/").content.decode()
    assert f"/q/{services.public_token(quote)}/" in record_page  # the link to copy
    services.decide(quote=quote, accepted=True)
    deal.refresh_from_db()
    assert deal.stage_id == negotiation.pk


def test_quotes_past_their_validity_expire(admin, deal):
    import datetime

    quote = services.create_from_deal(actor=admin, deal=deal)
    records.update_record(actor=admin, record=quote, values={"valid_until": "2026-01-31"})
    services.send_quote(actor=admin, quote=quote)
    assert services.expire_overdue(today=datetime.date(2026, 2, 1)) == 1
    quote.refresh_from_db()
    assert quote.status == QuoteStatus.EXPIRED
    with pytest.raises(ValidationError):
        services.decide(quote=quote, accepted=True)


def test_a_salesperson_sees_and_changes_only_their_own_quotes(portal_a, admin, deal):
    from crm.core.tests.test_api import member_client

    theirs = services.create_from_deal(actor=admin, deal=deal)
    client, member_id = member_client(portal_a, "handlowiec.oferty@alfa-handel.pl", "salesperson")
    own_deal = records.create_record(actor=Membership.objects.get(pk=member_id), code="deal",
                                     values={"title": "Moja transakcja"})
    created = client.post(f"/crm/deals/{own_deal.pk}/quotes/new/")
    assert created.status_code == 302
    mine = Quote.objects.get(deal=own_deal)
    assert mine.owner_id == member_id
    listing = client.get("/crm/quotes/").content.decode()
    assert mine.number in listing and theirs.number not in listing
    for path in (f"/crm/quotes/{theirs.pk}/", f"/crm/quotes/{theirs.pk}/items/", f"/crm/quotes/{theirs.pk}/pdf/"):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/crm/quotes/{theirs.pk}/items/", {"name": "X", "unit_price": "1"}).status_code == 404
    assert client.get(f"/crm/quotes/{mine.pk}/items/").status_code == 200
    guest, _guest_id = member_client(portal_a, "gosc.oferty@alfa-handel.pl", "guest")
    panel = guest.get(f"/crm/deals/{deal.pk}/quotes/", HTTP_HX_REQUEST="true").content.decode()
    assert "/crm/invoices/new/" not in panel


@pytest.mark.parametrize("count", [3, 30])
def test_the_deal_quotes_panel_costs_the_same_queries_for_3_and_30_quotes(portal_a, admin, count,
                                                                         django_assert_max_num_queries):
    deal = records.create_record(actor=admin, code="deal", values={"title": f"Wiele ofert {count}"})
    for _n in range(count):
        records.create_record(actor=admin, code="quote", values={"deal": deal.pk})
    client = portal_a.client(logged_in=True)
    with django_assert_max_num_queries(12):
        response = client.get(f"/crm/deals/{deal.pk}/quotes/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200


def test_replayed_beacons_never_add_more_than_the_time_the_page_has_been_open(admin, deal):
    quote = services.create_from_deal(actor=admin, deal=deal)
    opened = timezone.now()
    Quote.objects.filter(pk=quote.pk).update(last_opened_at=opened)
    for _replay in range(50):
        services.record_view_time(quote, 30, now=opened + timedelta(seconds=40))
    quote.refresh_from_db()
    assert quote.seconds_viewed == 40
    services.record_view_time(quote, 30, now=opened + timedelta(seconds=55))
    quote.refresh_from_db()
    assert quote.seconds_viewed == 55
    Quote.objects.filter(pk=quote.pk).update(last_opened_at=None, seconds_viewed=0)
    services.record_view_time(quote, 30, now=opened + timedelta(minutes=5))  # never opened: nothing
    quote.refresh_from_db()
    assert quote.seconds_viewed == 0
