"""In a real Chromium: an administrator makes 2FA mandatory, is sent to enrol, enrols with the
authenticator secret shown on the page, and signs in again with a code. Polish UI.

Drives `kompas run` (embedded PostgreSQL, demo portal) in a subprocess, because the browser
needs a real server; Chromium maps every host name to 127.0.0.1 so `demo.localhost` routes.
Screenshots land in artifacts/browser/.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from django.utils import timezone
from django_otp.oath import TOTP

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]


def _code(secret: str, *, steps_ahead: int = 0) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    totp = TOTP(key)
    totp.time = timezone.now().timestamp() + 30 * steps_ahead
    return f"{totp.token():06d}"


def test_enforced_two_factor_enrolment_and_login(kompas_server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port, banner = kompas_server.port, kompas_server.banner
    base = f"http://demo.localhost:{port}"
    email = re.search(r"Log in as\s+: (\S+)", banner).group(1)
    password = re.search(r"Password\s+: (\S+)", banner).group(1)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--host-resolver-rules=MAP * 127.0.0.1"])
        page = browser.new_context(locale="pl-PL", extra_http_headers={"Accept-Language": "pl"}).new_page()

        page.goto(f"{base}/auth/login/")
        page.fill("input[name=username]", email)
        page.fill("input[name=password]", password)
        page.click("main button.btn[type=submit]")
        page.goto(f"{base}/settings/security/")
        page.check("input[name=require_two_factor]")
        page.fill("input[name=grace_days]", "0")
        page.click("form:has(input[name=require_two_factor]) button[type=submit]")
        page.screenshot(path=str(ARTIFACTS / "security-settings.png"), full_page=True)

        page.goto(f"{base}/settings/billing/")  # any page: enforcement sends us to enrol
        assert page.url.endswith("/auth/two-factor/setup/")
        assert page.locator(".qr svg").count() == 1
        page.screenshot(path=str(ARTIFACTS / "two-factor-setup.png"), full_page=True)
        secret = page.get_by_test_id("totp-secret").inner_text()
        page.fill("input[name=code]", _code(secret))
        page.click("main button.btn[type=submit]")
        codes = page.get_by_test_id("recovery-codes").locator("code").all_inner_texts()
        assert len(codes) == 10
        page.screenshot(path=str(ARTIFACTS / "recovery-codes.png"), full_page=True)

        page.goto(f"{base}/")
        page.click("text=Wyloguj się")
        page.fill("input[name=username]", email)
        page.fill("input[name=password]", password)
        page.click("main button.btn[type=submit]")
        assert page.url.endswith("/auth/two-factor/")
        page.screenshot(path=str(ARTIFACTS / "two-factor-login.png"), full_page=True)
        page.fill("input[name=code]", _code(secret, steps_ahead=1))
        page.click("main button.btn[type=submit]")
        page.wait_for_load_state()
        assert page.url == f"{base}/"
        assert "Witaj" in page.content()
        page.screenshot(path=str(ARTIFACTS / "home-after-2fa.png"), full_page=True)
        browser.close()
    time.sleep(0.2)
