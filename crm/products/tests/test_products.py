"""Products: SKU and VAT rules, photos (JPEG/PNG only, scaled to 1200×1200 at most), the generic pages,
products on a deal with the deal's value recalculated, and the API."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context
from PIL import Image

from crm.core import services as records
from crm.core.models import ChangeEntry
from crm.core.tests.test_api import api_key, key_client, member_client, send
from crm.products import services
from crm.products.models import DealProduct, Product
from identity.members.models import Membership

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _generous_rate_limits(settings):
    settings.API_RATE_PER_KEY = settings.API_RATE_PER_PORTAL = "100000/min"


@pytest.fixture
def admin(portal_a):
    with tenant_context(portal_a.tenant):
        yield Membership.objects.select_related("user").get(user=portal_a.owner)


def image_file(width: int, height: int, image_format: str, name: str) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format=image_format)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{image_format.lower()}")


def product(admin, **values) -> Product:
    return records.create_record(actor=admin, code="product", values={"name": "Wiertarka udarowa"} | values)


def test_a_product_takes_the_portal_currency_and_refuses_a_taken_sku_whatever_its_case(admin):
    first = product(admin, sku="WU-100", price="349.99", vat_rate="23")
    assert first.currency == "PLN" and first.unit == "szt."
    with pytest.raises(ValidationError) as refused:
        product(admin, name="Inna wiertarka", sku="wu-100")
    assert "WU-100" in refused.value.message_dict["sku"][0] or "wu-100" in refused.value.message_dict["sku"][0]
    records.delete_record(actor=admin, record=first)
    assert product(admin, name="Nowa wiertarka", sku="wu-100").sku == "wu-100"  # the first is in the recycle bin
    with pytest.raises(ValidationError) as refused:
        product(admin, name="Zła stawka", vat_rate="22")
    assert "vat_rate" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        product(admin, name="Zła waluta", currency="ZLOTY")
    assert "currency" in refused.value.message_dict


def test_a_large_png_photo_is_scaled_down_keeping_its_proportions_and_a_gif_is_refused(admin):
    item = product(admin, sku="FOTO-1")
    stored = services.set_product_photo(actor=admin, product=item, upload=image_file(2000, 1500, "PNG", "duza.png"))
    assert stored.photo.startswith(f"portals/{admin._state.db and item._meta.app_label and ''}") or stored.photo
    with default_storage.open(stored.photo, "rb") as handle:
        image = Image.open(handle)
        assert image.format == "PNG" and image.size == (1200, 900)
    assert "/products/" in stored.photo
    small = services.set_product_photo(actor=admin, product=item, upload=image_file(640, 480, "JPEG", "mala.jpg"))
    with default_storage.open(small.photo, "rb") as handle:
        assert Image.open(handle).size == (640, 480)
    with pytest.raises(ValidationError) as refused:
        services.set_product_photo(actor=admin, product=item, upload=image_file(100, 100, "GIF", "ruchome.gif"))
    assert refused.value.message_dict["photo"] == ["The photo must be a JPEG or PNG image."]
    assert ChangeEntry.objects.filter(entity="product", record_id=item.pk, field="photo").count() == 2


def test_product_pages_render_and_the_photo_is_uploaded_and_served_only_to_the_portal(portal_a, portal_b, admin):
    item = product(admin, sku="STR-1", price="1999.00")
    client = portal_a.client(logged_in=True)
    assert client.get("/crm/products/").status_code == 200
    page = client.get(f"/crm/products/{item.pk}/")
    assert page.status_code == 200 and "Wiertarka udarowa" in page.content.decode()
    refused = client.post(f"/crm/products/{item.pk}/photo/", {"photo": image_file(50, 50, "GIF", "x.gif")})
    assert refused.status_code == 400 and "JPEG or PNG" in refused.content.decode()
    uploaded = client.post(f"/crm/products/{item.pk}/photo/", {"photo": image_file(1600, 1600, "JPEG", "a.jpg")})
    assert uploaded.status_code == 302
    served = client.get(f"/crm/products/{item.pk}/photo/file/")
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(b"".join(served.streaming_content))).size == (1200, 1200)
    assert client.get(f"/crm/products/{item.pk}/photo/file/", HTTP_HOST=portal_b.host).status_code in (302, 403, 404)
    assert portal_b.client(logged_in=True).get(f"/crm/products/{item.pk}/photo/file/").status_code == 404


def test_deal_products_add_change_remove_and_recalculate_the_value_with_history(admin):
    deal = records.create_record(actor=admin, code="deal", values={"title": "Wyposażenie warsztatu", "value": "100"})
    drill = product(admin, sku="D-1", price="199.99", vat_rate="23", unit="szt.")
    line = services.add_deal_product(actor=admin, deal=deal, values={"product": drill.pk, "quantity": "3",
                                                                     "discount_percent": "10"}, recalculate=True)
    assert (line.name, line.unit_price, line.vat_rate) == ("Wiertarka udarowa", Decimal("199.99"), "23")
    deal.refresh_from_db()
    assert deal.value == Decimal("539.97")
    services.add_deal_product(actor=admin, deal=deal, values={"name": "Montaż", "unit": "usługa",
                                                              "unit_price": "1000,00", "vat_rate": "8"})
    deal.refresh_from_db()
    assert deal.value == Decimal("539.97")  # not asked to recalculate
    services.update_deal_product(actor=admin, line=line, values={"quantity": "1"}, recalculate=True)
    deal.refresh_from_db()
    assert deal.value == Decimal("1179.99")  # 179.99 + 1000.00
    services.remove_deal_product(actor=admin, line=line, recalculate=True)
    deal.refresh_from_db()
    assert deal.value == Decimal("1000.00")
    assert list(DealProduct.objects.filter(deal=deal).values_list("name", flat=True)) == ["Montaż"]
    history = ChangeEntry.objects.filter(entity="deal", record_id=deal.pk, field="products")
    assert history.count() == 4 and history.first().new_value == "Montaż × 1"
    with pytest.raises(ValidationError) as refused:
        services.add_deal_product(actor=admin, deal=deal, values={"unit_price": "10"})
    assert "name" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        services.add_deal_product(actor=admin, deal=deal, values={"name": "X", "unit_price": "10", "quantity": "0"})
    assert "quantity" in refused.value.message_dict


def test_the_deal_page_shows_its_products_panel_and_a_line_is_added_there(portal_a, portal_b, admin):
    deal = records.create_record(actor=admin, code="deal", values={"title": "Regały magazynowe"})
    client = portal_a.client(logged_in=True)
    page = client.get(f"/crm/deals/{deal.pk}/").content.decode()
    assert f'hx-get="/crm/deals/{deal.pk}/products/"' in page and f'hx-get="/crm/deals/{deal.pk}/quotes/"' in page
    line = {"name": "Regał R-200", "quantity": "4", "unit_price": "250", "vat_rate": "23", "recalculate": "1"}
    added = client.post(f"/crm/deals/{deal.pk}/products/", line, HTTP_HX_REQUEST="true")
    assert added.status_code == 200 and "Regał R-200" in added.content.decode()
    deal.refresh_from_db()
    assert deal.value == Decimal("1000.00")
    bad = client.post(f"/crm/deals/{deal.pk}/products/", {"name": "Bez ceny"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 400 and "Enter the unit net price." in bad.content.decode()
    refused = client.post(f"/crm/deals/{deal.pk}/products/", {"name": "Obcy", "unit_price": "1"},
                          HTTP_HOST=portal_b.host)
    assert refused.status_code in (302, 403, 404)
    assert portal_b.client(logged_in=True).get(f"/crm/deals/{deal.pk}/products/").status_code == 404


@pytest.mark.parametrize("rows", [3, 30])
def test_the_products_panel_costs_the_same_queries_for_3_and_30_lines(portal_a, admin, rows,
                                                                      django_assert_max_num_queries):
    deal = records.create_record(actor=admin, code="deal", values={"title": f"Zamówienie {rows}"})
    DealProduct.objects.bulk_create([DealProduct(deal=deal, name=f"Pozycja {n}", unit_price=Decimal("10"), position=n)
                                     for n in range(rows)])
    client = portal_a.client(logged_in=True)
    with django_assert_max_num_queries(14):
        assert client.get(f"/crm/deals/{deal.pk}/products/", HTTP_HX_REQUEST="true").status_code == 200


def test_a_member_with_own_scope_cannot_add_products_to_someone_elses_deal(portal_a, admin):
    deal = records.create_record(actor=admin, code="deal", values={"title": "Cudza transakcja"})
    client, _member = member_client(portal_a, "handlowiec.produkty@alfa-handel.pl", "salesperson")
    response = client.post(f"/crm/deals/{deal.pk}/products/", {"name": "X", "unit_price": "1"})
    assert response.status_code in (403, 404)
    assert not DealProduct.objects.filter(deal=deal).exists()


def test_products_and_deal_products_over_the_api(portal_a, portal_b):
    client = key_client(portal_a, api_key(portal_a))
    created = send(client, "post", "/api/v1/products/", {"name": "Szlifierka kątowa", "sku": "SK-125",
                                                          "price": "289.00", "vat_rate": "23", "unit": "szt."})
    assert created.status_code == 201, created.content
    again = send(client, "post", "/api/v1/products/", {"name": "Duplikat", "sku": "sk-125"})
    assert again.status_code == 400 and "sku" in again.json()["error"]["fields"]
    deal = send(client, "post", "/api/v1/deals/", {"title": "Narzędzia dla serwisu"}).json()
    line = send(client, "post", f"/api/v1/deals/{deal['id']}/products/?recalculate=1",
                {"product": created.json()["id"], "quantity": "2"})
    assert line.status_code == 201, line.content
    assert line.json()["net"] == "578.00" and line.json()["gross"] == "710.94"
    listed = send(client, "get", f"/api/v1/deals/{deal['id']}/products/").json()
    assert listed["totals"] == {"net": "578.00", "vat": "132.94", "gross": "710.94", "currency": "PLN"}
    assert send(client, "get", f"/api/v1/deals/{deal['id']}/").json()["value"] == "578.00"
    changed = send(client, "patch", f"/api/v1/deals/{deal['id']}/products/{line.json()['id']}/", {"quantity": "1"})
    assert changed.status_code == 200 and changed.json()["net"] == "289.00"
    other = key_client(portal_b, api_key(portal_b))
    assert send(other, "get", f"/api/v1/deals/{deal['id']}/products/").status_code == 404
    removed = send(client, "delete", f"/api/v1/deals/{deal['id']}/products/{line.json()['id']}/")
    assert removed.status_code == 204, removed.content
