"""Platform staff for the console's tests: an account with an authenticator, signed in through the real pages."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from identity.accounts.models import User
from kompas.staff.tests.helpers import STAFF_EMAIL, STAFF_PASSWORD, public_client, sign_in


@pytest.fixture(autouse=True)
def _no_otp_throttle(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp slows retries after a wrong code; not under test here


@pytest.fixture(autouse=True)
def _no_lockout_left_from_another_test():
    """Lockouts live in the shared cache for 15 minutes; every test starts without one."""
    from kompas.staff.auth_views import _clear_failures

    _clear_failures(STAFF_EMAIL)
    yield
    _clear_failures(STAFF_EMAIL)


@pytest.fixture
def staff_user(portals, db) -> User:
    return User.objects.create_user(email=STAFF_EMAIL, password=STAFF_PASSWORD, full_name="Agnieszka Nowak",
                                    is_staff=True)


@pytest.fixture
def staff_device(staff_user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=staff_user, name="Kompas", confirmed=True)


@pytest.fixture
def staff_client(staff_device) -> Client:
    """Platform staff, signed in with password and code on the public host."""
    client = public_client()
    response = sign_in(client, staff_device)
    assert response.status_code == 302 and response["Location"] == "/staff/"
    return client
