"""In a real Chromium, Polish UI: sign up on the public site, watch the live address check react
(taken, reserved, free), follow the link from the e-mail caught by a real SMTP server, create
the portal with one click and land signed in on the portal's own host.

Drives `kompas run` (embedded PostgreSQL, demo portal) in a subprocess with its e-mail going to
the `smtp_inbox` fixture; Chromium maps every host name to 127.0.0.1, so `localhost` (the public
site) and `<slug>.localhost` (portals) route. Screenshots land in artifacts/browser/.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]


def test_signup_live_address_check_email_link_and_signed_in_portal(kompas_server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port, smtp_inbox = kompas_server.port, kompas_server.inbox
    public = f"http://localhost:{port}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--host-resolver-rules=MAP * 127.0.0.1"])
        context = browser.new_context(locale="pl-PL", extra_http_headers={"Accept-Language": "pl"},
                                      viewport={"width": 1280, "height": 900})
        page = context.new_page()

        page.goto(f"{public}/")
        assert page.locator("html").get_attribute("lang") == "pl"
        page.screenshot(path=str(ARTIFACTS / "signup-1-landing.png"), full_page=True)
        page.click("main a[href='/signup/']")
        page.wait_for_url(f"{public}/signup/")

        status = page.locator("#slug-status")
        page.fill("input[name=full_name]", "Anna Nowak")
        page.fill("input[name=email]", "anna.nowak@gamma-meble.pl")
        page.fill("input[name=password]", "Kompas-na-start-2026")
        page.type("input[name=company_name]", "Gamma Meble Sp. z o.o.", delay=15)
        # The address follows the company name and is checked as it changes.
        expect(page.locator("input[name=slug]")).to_have_value("gamma-meble")
        expect(status.locator(".address-free")).to_contain_text("gamma-meble.localhost")

        page.fill("input[name=slug]", "")
        page.type("input[name=slug]", "demo", delay=40)  # the demo portal has it
        expect(status.locator(".field-error")).to_be_visible()
        expect(status.locator("[data-address]")).to_be_visible()  # a free one is offered
        page.screenshot(path=str(ARTIFACTS / "signup-2-address-taken.png"), full_page=True)

        page.fill("input[name=slug]", "www")
        expect(status.locator(".field-error")).to_be_visible()
        reserved = status.inner_text()
        page.fill("input[name=slug]", "gamma-meble")
        expect(status.locator(".address-free")).to_contain_text("gamma-meble.localhost")
        assert reserved != status.inner_text()
        page.screenshot(path=str(ARTIFACTS / "signup-3-form-filled.png"), full_page=True)

        page.click("main button.btn[type=submit]")
        page.wait_for_url(f"{public}/signup/sent/")
        assert "anna.nowak@gamma-meble.pl" in page.content()
        page.screenshot(path=str(ARTIFACTS / "signup-4-check-your-email.png"), full_page=True)

        [message] = smtp_inbox.wait_for(1, timeout=15)
        link = re.search(r"http://\S+/signup/confirm/\S+/", message.get_content()).group(0)
        assert link.startswith(f"{public}/signup/confirm/")
        page.goto(link)
        page.screenshot(path=str(ARTIFACTS / "signup-5-confirm.png"), full_page=True)

        started = time.perf_counter()
        page.click("main button.btn[type=submit]")
        page.wait_for_url(f"http://gamma-meble.localhost:{port}/", timeout=60_000)
        page.wait_for_load_state("load")
        elapsed = time.perf_counter() - started
        print(f"\nclick on the e-mailed link's button → signed-in portal page in Chromium: {elapsed * 1000:.0f} ms")
        assert "Anna" in page.content()
        assert page.locator("form[action='/auth/logout/']").count() == 1  # signed in
        page.screenshot(path=str(ARTIFACTS / "signup-6-signed-in-portal.png"), full_page=True)

        # The link is spent: opening it again says so and points at the portal's login.
        page.goto(link)
        assert f"http://gamma-meble.localhost:{port}/auth/login/" in page.content()
        page.screenshot(path=str(ARTIFACTS / "signup-7-link-used.png"), full_page=True)

        phone = browser.new_context(locale="pl-PL", extra_http_headers={"Accept-Language": "pl"},
                                    viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
        phone.goto(f"{public}/signup/")
        phone.click("label[for=id_kind_1]")  # "just me": no company name to fill in
        expect(phone.locator("input[name=company_name]")).to_be_hidden()
        phone.type("input[name=full_name]", "Piotr Wiśniewski", delay=15)
        expect(phone.locator("input[name=slug]")).to_have_value("piotr-wisniewski")
        expect(phone.locator("#slug-status .address-free")).to_be_visible()
        phone.screenshot(path=str(ARTIFACTS / "signup-8-phone-individual.png"), full_page=True)
        browser.close()
