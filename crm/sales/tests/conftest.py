"""These tests read the application's English messages; portals default to Polish, so requests
and direct calls here use English (the Polish catalogue is checked by test_translations)."""

import pytest
from django.test import Client
from django.utils import translation

# These read amounts formatted the Polish way ("1 744,16 zł"), the portals' own language.
READ_POLISH = {"test_a_member_with_own_scope_sees_only_their_forecast_on_the_page_and_api"}


@pytest.fixture(autouse=True)
def _english(request, monkeypatch):
    if request.function.__name__ in READ_POLISH:
        yield
        return
    original = Client.__init__

    def english_client(self, *args, **defaults):
        defaults.setdefault("HTTP_ACCEPT_LANGUAGE", "en")
        original(self, *args, **defaults)

    monkeypatch.setattr(Client, "__init__", english_client)
    with translation.override("en"):
        yield
