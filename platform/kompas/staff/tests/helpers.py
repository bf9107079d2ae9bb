"""Helpers of the staff console's tests: TOTP codes, the public host's client, signing in through the real pages."""

from __future__ import annotations

from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

STAFF_EMAIL = "agnieszka.nowak@kompas.test"
STAFF_PASSWORD = "Operatorka-Kompasu-2024"


def code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The app's code now (or a later one: a code is accepted once, like the real thing)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = timezone.now().timestamp() + steps_ahead * device.step
    return f"{totp.token():06d}"


def public_client() -> Client:
    return Client(HTTP_HOST=settings.BASE_DOMAIN, HTTP_ACCEPT_LANGUAGE="en")


def sign_in(client: Client, device: TOTPDevice | None, *, email: str = STAFF_EMAIL, password: str = STAFF_PASSWORD,
            next_url: str = "/staff/"):
    response = client.post("/login/", {"username": email, "password": password, "next": next_url})
    if device is None:
        return response
    assert response.status_code == 302 and response["Location"] == "/login/two-factor/", response
    return client.post("/login/two-factor/", {"code": code(device)})
