"""The partner dashboard and the client's Settings → Partner page in a real Chromium (screenshots).

No server process: the page is rendered by Django's test client (so it sees the test database)
and handed to Chromium with its static files from the staticfiles finders.
Screenshots land in artifacts/browser/partners-*.png.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

from kompas.partners.tests.conftest import public_client
from kompas.partners.tests.test_partner_portal import _create_client, _linked

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[4] / "artifacts" / "browser"

pytestmark = [pytest.mark.browser, pytest.mark.django_db,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]


def _serve(page_path: str, body: bytes):
    """The page rendered beforehand (Playwright's handlers run outside the test's database connection),
    and its static files from the staticfiles finders."""

    def handle(route, request) -> None:
        parts = urlsplit(request.url)
        if parts.path == page_path:
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=body)
            return
        found = parts.path.startswith(settings.STATIC_URL) and finders.find(parts.path[len(settings.STATIC_URL):])
        if found:
            route.fulfill(path=found)
        else:
            route.fulfill(status=404, body=b"")

    return handle


def _screenshot(client, url: str, name: str) -> str:
    from playwright.sync_api import sync_playwright

    parts = urlsplit(url)
    response = client.get(parts.path, HTTP_HOST=parts.netloc)
    assert response.status_code == 200, response.status_code
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        page.route("**/*", _serve(parts.path, response.content))
        page.goto(url)
        text = page.inner_text("main")
        page.screenshot(path=str(ARTIFACTS / name), full_page=True)
        browser.close()
    return text


def test_the_partner_dashboard_in_chromium(agency, after_commit, portal_a):
    _create_client(agency, after_commit, slug="piekarnia-lodz")
    _linked(agency, after_commit, portal_a)
    client = public_client(agency.admin)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "pl"
    text = _screenshot(client, f"http://{settings.BASE_DOMAIN}/partners/{agency.partner.slug}/",
                       "partners-dashboard-pl.png")
    assert portal_a.tenant.name in text and "Klient Jeden" in text
    assert "Otwórz portal" in text or "Open portal" in text

    owner = portal_a.client(logged_in=True)
    owner.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    text = _screenshot(owner, f"http://{portal_a.host}/settings/partner/", "partners-client-settings-en.png")
    assert agency.partner.name in text and agency.admin.email in text
