"""These tests read the application's English messages; portals default to Polish, so requests
and direct calls here use English (the Polish catalogue is checked by test_translations)."""

import pytest
from django.test import Client
from django.utils import translation


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    original = Client.__init__

    def english_client(self, *args, **defaults):
        defaults.setdefault("HTTP_ACCEPT_LANGUAGE", "en")
        original(self, *args, **defaults)

    monkeypatch.setattr(Client, "__init__", english_client)
    with translation.override("en"):
        yield
