"""Settings → Portal: name, language, time zone, currency and logo — per portal, for administrators."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from PIL import Image

from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def _png(size=(900, 300)) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", size, (31, 111, 235)).save(buffer, format="PNG")
    return SimpleUploadedFile("logo.png", buffer.getvalue(), content_type="image/png")


def _form(**changes):
    defaults = {"name": "Alfa Handel Sp. z o.o.", "language": "pl", "time_zone": "Europe/Warsaw", "currency": "PLN"}
    return defaults | changes


def test_renaming_keeps_the_address_and_settings_are_saved(portal_a):
    client = portal_a.client(logged_in=True)
    response = client.post("/settings/portal/", _form(name="Alfa Hurt Sp. z o.o.", time_zone="Europe/London",
                                                      currency="EUR", language="en"))
    assert response.status_code == 302
    tenant = Tenant.objects.get(pk=portal_a.tenant.pk)
    assert (tenant.name, tenant.slug, tenant.time_zone, tenant.currency, tenant.language) == (
        "Alfa Hurt Sp. z o.o.", "alfa", "Europe/London", "EUR", "en")
    assert client.get("/").status_code == 200  # same host still routes


def test_a_logo_is_resized_stored_under_the_portals_prefix_and_served_only_there(portal_a, portal_b, settings,
                                                                                 tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    client = portal_a.client(logged_in=True)
    assert client.post("/settings/portal/", _form(logo=_png())).status_code == 302
    tenant = Tenant.objects.get(pk=portal_a.tenant.pk)
    assert tenant.logo.startswith(f"portals/{tenant.schema_name}/logo-")
    stored = Image.open(tmp_path / tenant.logo)
    assert max(stored.size) == 512
    assert Client(HTTP_HOST=portal_a.host).get(f"/files/{tenant.logo}").status_code == 200  # login page shows it
    assert Client(HTTP_HOST=portal_b.host).get(f"/files/{tenant.logo}").status_code == 404


def test_a_file_that_is_not_an_image_is_refused_with_the_reason(portal_a):
    client = portal_a.client(logged_in=True)
    fake = SimpleUploadedFile("logo.png", b"%PDF-1.4 to nie obrazek", content_type="image/png")
    response = client.post("/settings/portal/", _form(logo=fake), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert "The logo must be a PNG or JPEG image." in response.content.decode()
    assert Tenant.objects.get(pk=portal_a.tenant.pk).logo == ""


def test_an_unknown_time_zone_is_refused_naming_the_field(portal_a):
    from django.core.exceptions import ValidationError

    from tenants.services import update_portal_settings

    with pytest.raises(ValidationError) as refused:
        update_portal_settings(tenant=portal_a.tenant, name="Alfa", language="pl", time_zone="Mars/Olympus",
                               currency="PLN")
    assert "time_zone" in refused.value.message_dict


def test_pages_use_the_portals_time_zone(portal_a):
    from django.http import HttpResponse
    from django.utils import timezone

    from tenants.context import PortalTimeZoneMiddleware

    seen = {}

    def view(request):
        seen["zone"] = timezone.get_current_timezone_name()
        return HttpResponse()

    request = RequestFactory().get("/")
    request.tenant = Tenant.objects.get(pk=portal_a.tenant.pk)
    request.tenant.time_zone = "Asia/Tokyo"
    PortalTimeZoneMiddleware(view)(request)
    assert seen["zone"] == "Asia/Tokyo"
    assert timezone.get_current_timezone_name() != "Asia/Tokyo"


def test_only_administrators_change_portal_settings(portal_a, portal_b):
    from django_tenants.utils import tenant_context

    from identity.accounts.models import User
    from identity.members.services import add_member

    user = User.objects.create_user(email="pracownik@alfa-handel.pl", password=portal_a.password)
    with tenant_context(portal_a.tenant):
        add_member(user=user)
        client = Client(HTTP_HOST=portal_a.host)
        assert client.login(username=user.email, password=portal_a.password)
    assert client.post("/settings/portal/", _form(name="Przejęte")).status_code == 403
    admin_a = portal_a.client(logged_in=True)
    assert admin_a.post("/settings/portal/", _form(name="Przejęte"), HTTP_HOST=portal_b.host).status_code == 302
    assert Tenant.objects.get(pk=portal_b.tenant.pk).name == "Beta Serwis S.A."
