"""In a real Chromium, in Polish and in English: a new user's first journey through the CRM (issue 7).

Sign up on the public site, follow the e-mailed link, land on the dashboard with its setup checklist;
from the checklist open Settings → Pipelines, create a pipeline and add a stage that requires the
expected close date; add a lead with Polish data; create its company and a deal for it in the new
pipeline from the board; drag the card with the mouse to the next stage, then to the stage with the
requirement (the dialog asks for the date), then close it as won (Polish: dragged into the won
column; English: the deal page's "Won" button). Every step is checked on the page and through the
REST API with the browser's session (the server runs on its own embedded PostgreSQL, not the test DB).

Drives `kompas run` in a subprocess with its e-mail going to the `smtp_inbox` fixture, as
test_signup_in_chromium.py does. Screenshots (1280×800, and a phone run at 390×844 in Polish) land in
artifacts/browser/journey-<lang>-*.png.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
WIDTH = "document.documentElement.scrollWidth"  # of the page, to catch sideways scrolling
TIMEOUT = 60_000  # ms, for every wait and expectation: a loaded machine must not make the test fail

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]

TEXTS = {
    "pl": {"slug": "podroz-pl", "email": "zaneta.wojcik@lodzka-hurtownia.pl", "full_name": "Żaneta Wójcik",
           "company": "Łódzka Hurtownia Żelaza Sp. z o.o.", "pipeline": "Sprzedaż B2B",
           "stage": "Umowa do podpisu", "deal": "Stal zbrojeniowa — dostawa na I kwartał",
           "welcome": "Witaj"},
    "en": {"slug": "journey-en", "email": "zaneta.wojcik@lodz-ironworks.example", "full_name": "Żaneta Wójcik",
           "company": "Łódzka Hurtownia Żelaza Sp. z o.o.", "pipeline": "B2B sales",
           "stage": "Contract to sign", "deal": "Reinforcing steel — Q1 delivery",
           "welcome": "Welcome"},
}
LEAD = {"title": "Zapytanie od Łódzkiej Hurtowni Żelaza", "first_name": "Żaneta", "last_name": "Wójcik",
        "company_name": "Łódzka Hurtownia Żelaza", "phones": "600 100 200",
        "emails": "zaneta.wojcik@lodzka-hurtownia.pl"}


def _shot(page, lang: str, step: str, *, full_page: bool = True) -> None:
    page.screenshot(path=str(ARTIFACTS / f"journey-{lang}-{step}.png"), full_page=full_page)


def _api(page, path: str) -> dict:
    """The REST API read with the page's own session (a fetch inside the page: same origin, same cookies)."""
    status, body = page.evaluate("""async path => {
        const response = await fetch(path, {headers: {Accept: "application/json"}, credentials: "same-origin"});
        return [response.status, await response.text()];
    }""", path)
    assert status == 200, (path, status, body[:500])
    return json.loads(body)


def _drag_card(page, deal_id: int, stage_id: int) -> None:
    """Drag a card into a column with real pointer moves (SortableJS in fallback mode follows mousemove)."""
    from playwright.sync_api import expect

    card = page.locator(f"#deal-{deal_id}")
    target = page.locator(f"#cards-{stage_id}")
    # Both ends must be on screen: bring the target column in, the board scrolls sideways.
    target.evaluate("list => list.closest('.board-column').scrollIntoView({inline: 'nearest', block: 'nearest'})")
    grip, drop = card.locator(".deal-meta").bounding_box(), target.bounding_box()
    viewport = page.viewport_size
    assert grip and drop and 0 <= grip["x"] < viewport["width"], "the card is off screen; the board is too narrow"
    start_x, start_y = grip["x"] + 6, grip["y"] + grip["height"] / 2
    end_x, end_y = drop["x"] + drop["width"] / 2, drop["y"] + min(drop["height"] / 2, 60)
    page.mouse.move(start_x, start_y)
    page.mouse.down()
    page.mouse.move(start_x + 12, start_y + 6, steps=4)  # past the fallback tolerance: the drag starts
    page.mouse.move(end_x, end_y, steps=25)
    # SortableJS places the card in the list under the pointer (on a 50 ms timer): wait until it did.
    placed = target.locator(f":scope > #deal-{deal_id}:not(.sortable-fallback)")
    try:
        expect(placed).to_have_count(1, timeout=5_000)
    except AssertionError:
        page.mouse.move(end_x + 3, end_y + 8, steps=5)  # one more nudge over the list
        expect(placed).to_have_count(1, timeout=TIMEOUT)
    page.mouse.up()


@pytest.mark.parametrize("lang", ["pl", "en"])
def test_new_users_journey_signup_pipeline_lead_deal_board_won(lang, kompas_server):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT)
    texts = TEXTS[lang]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port, smtp_inbox = kompas_server.port, kompas_server.inbox
    started = time.perf_counter()
    timings: list[str] = []

    def step(name: str) -> None:
        timings.append(f"{name} {time.perf_counter() - started:.1f}s")

    step("server up")
    public, portal = f"http://localhost:{port}", f"http://{texts['slug']}.localhost:{port}"
    close_date = datetime.date.today() + datetime.timedelta(days=45)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--host-resolver-rules=MAP * 127.0.0.1"])
            context = browser.new_context(locale="pl-PL" if lang == "pl" else "en-GB",
                                          extra_http_headers={"Accept-Language": lang},
                                          viewport={"width": 1280, "height": 800})
            context.set_default_timeout(TIMEOUT)
            page = context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))

            # 1. Sign up, follow the e-mailed link, land signed in on the dashboard with the checklist.
            page.goto(f"{public}/signup/")
            assert page.locator("html").get_attribute("lang") == lang
            page.fill("input[name=full_name]", texts["full_name"])
            page.fill("input[name=email]", texts["email"])
            page.fill("input[name=password]", "Kompas-na-start-2026")
            page.fill("input[name=company_name]", texts["company"])
            page.fill("input[name=slug]", texts["slug"])
            expect(page.locator("#slug-status .address-free")).to_contain_text(f"{texts['slug']}.localhost")
            page.click("main button.btn[type=submit]")
            page.wait_for_url(f"{public}/signup/sent/")
            [message] = smtp_inbox.wait_for(1, timeout=20)
            link = re.search(r"http://\S+/signup/confirm/\S+/", message.get_content()).group(0)
            page.goto(link)
            page.click("main button.btn[type=submit]")
            page.wait_for_url(f"{portal}/", timeout=60_000)
            expect(page.locator("h1")).to_contain_text(texts["welcome"])
            checklist = page.locator("section.setup")
            expect(checklist.locator(".setup-progress[role=progressbar]")).to_be_visible()
            expect(checklist.locator(".setup-progress span")).to_have_text(re.compile(r"^\d{1,3}%$"))
            percent_before = int(checklist.locator(".setup-progress").get_attribute("aria-valuenow"))
            _shot(page, lang, "1-dashboard")

            step("signed up")
            # 2. From the checklist to Settings → Pipelines: a new pipeline, a stage requiring the close date.
            checklist.locator(".setup-items a[href='/settings/crm/pipelines/']").click()
            page.wait_for_url(f"{portal}/settings/crm/pipelines/")
            page.fill("#id_name", texts["pipeline"])
            page.locator(".new-pipeline button[type=submit]").click()
            page.wait_for_url(re.compile(r"/settings/crm/pipelines/\d+/$"))
            pipeline_id = int(re.search(r"/pipelines/(\d+)/$", page.url).group(1))
            expect(page.locator("h1")).to_have_text(texts["pipeline"])
            default_rows = page.locator("li.stage-row").count()
            assert default_rows >= 3
            new_stage = page.locator("form#new-stage")
            new_stage.locator("input[name='new-name']").fill(texts["stage"])
            new_stage.locator("input[name='new-probability']").fill("80")
            new_stage.locator("input[name='new-color']").fill("#0e9f6e")
            new_stage.locator("details.required-fields > summary").click()
            new_stage.locator("input[name='new-required_fields'][value='expected_close_date']").check()
            new_stage.locator(".form-actions button[type=submit]").click()
            page.wait_for_url(re.compile(rf"/settings/crm/pipelines/{pipeline_id}/(#stage-\d+)?$"))
            expect(page.locator("li.stage-row")).to_have_count(default_rows + 1)
            added = page.locator("li.stage-row", has=page.locator(f"input[value='{texts['stage']}']"))
            expect(added.locator("details.required-fields > summary")).to_contain_text("1")
            _shot(page, lang, "2-pipeline-settings")

            [pipeline] = [item for item in _api(page, "/api/v1/pipelines/") if item["id"] == pipeline_id]
            stages = pipeline["stages"]
            kinds = [stage["kind"] for stage in stages]
            assert kinds[-2:] == ["won", "lost"] and kinds.count("open") == default_rows - 2 + 1, kinds
            first, second = stages[0], stages[1]
            [needs_date] = [stage for stage in stages if stage["name"] == texts["stage"]]
            [won] = [stage for stage in stages if stage["kind"] == "won"]
            assert needs_date["required_fields"] == ["expected_close_date"] and needs_date["probability"] == 80
            assert stages.index(needs_date) == len(stages) - 3  # added before the won and lost stages

            step("pipeline")
            # 3. A lead with Polish data.
            page.goto(f"{portal}/crm/leads/new/")
            for name, value in LEAD.items():
                page.fill(f"form.record-new [name={name}]", value)
            page.locator("form.record-new .form-actions button[type=submit]").click()
            page.wait_for_url(re.compile(r"/crm/leads/\d+/$"))
            lead_id = int(re.search(r"/leads/(\d+)/$", page.url).group(1))
            expect(page.locator("h1")).to_contain_text(LEAD["title"])
            lead = _api(page, f"/api/v1/leads/{lead_id}/")
            assert lead["title"] == LEAD["title"] and lead["first_name"] == "Żaneta" and lead["last_name"] == "Wójcik"
            assert "600 100 200" in str(lead["phones"]) or "600100200" in str(lead["phones"])
            _shot(page, lang, "3-lead")
            page.goto(f"{portal}/crm/leads/")
            expect(page.locator("table.records")).to_contain_text(LEAD["title"])
            _shot(page, lang, "4-leads-list")

            step("lead")
            # 4. The lead page offers no deal yet (lead conversion is a later issue): the company from the
            #    lead's data, then the deal in the new pipeline from its board.
            page.goto(f"{portal}/crm/companies/new/")
            page.fill("form.record-new [name=name]", texts["company"])
            page.fill("form.record-new [name=phones]", LEAD["phones"])
            page.locator("form.record-new .form-actions button[type=submit]").click()
            page.wait_for_url(re.compile(r"/crm/companies/\d+/$"))
            company_id = int(re.search(r"/companies/(\d+)/$", page.url).group(1))

            page.goto(f"{portal}/crm/deals/board/")
            page.locator(".pipeline-switch a", has_text=texts["pipeline"]).click()
            page.wait_for_url(f"{portal}/crm/deals/board/{pipeline_id}/")
            expect(page.locator(".board-column")).to_have_count(len(stages))
            page.locator(".board-head .actions a").click()
            dialog = page.locator("#dialog")
            expect(dialog).to_have_attribute("open", "")
            dialog.locator("[name='f-title']").fill(texts["deal"])
            dialog.locator("[name='f-value']").fill("48000")
            dialog.locator("#id_f-company").fill("Łódzka")
            dialog.locator("[data-lookup-pick]", has_text="Łódzka Hurtownia").first.click()
            expect(dialog.locator("input[type=hidden][name='f-company']")).to_have_value(str(company_id))
            expect(dialog.locator("select[name=stage]")).to_have_value(str(first["id"]))
            dialog.locator(".form-actions button[type=submit]").click()
            card = page.locator(f"#cards-{first['id']} .deal-card", has_text=texts["deal"])
            expect(card).to_be_visible()
            deal_id = int(card.get_attribute("data-deal"))
            deal = _api(page, f"/api/v1/deals/{deal_id}/")
            assert (deal["pipeline"], deal["stage"], deal["company"]) == (pipeline_id, first["id"], company_id)
            assert deal["expected_close_date"] is None
            if lang == "pl":
                expect(card.locator(".deal-value")).to_contain_text("48 000")
                expect(card.locator(".deal-value")).to_contain_text("zł")

            step("deal")
            # 5. Drag to the next stage with the mouse.
            _drag_card(page, deal_id, second["id"])
            expect(page.locator(f"#stage-head-{second['id']} .count")).to_have_text("1")
            expect(page.locator(f"#stage-head-{first['id']} .count")).to_have_text("0")
            expect(page.locator(f"#cards-{second['id']} > #deal-{deal_id}")).not_to_have_class(re.compile("moving"))
            assert _api(page, f"/api/v1/deals/{deal_id}/")["stage"] == second["id"]
            _shot(page, lang, "5-board", full_page=False)

            # … then to the stage that requires the expected close date: the dialog asks for it.
            _drag_card(page, deal_id, needs_date["id"])
            expect(dialog).to_have_attribute("open", "")
            expect(dialog.locator("h2")).to_contain_text(texts["stage"])
            date_input = dialog.locator("[name='f-expected_close_date']")
            expect(date_input).to_be_visible()
            assert _api(page, f"/api/v1/deals/{deal_id}/")["stage"] == second["id"]  # not moved yet
            _shot(page, lang, "6-board-required-field-dialog", full_page=False)
            date_input.fill(close_date.isoformat())
            dialog.locator(".form-actions button[type=submit]").click()
            expect(dialog).not_to_have_attribute("open", "")
            expect(page.locator(f"#stage-head-{needs_date['id']} .count")).to_have_text("1")
            expect(page.locator(f"#stage-head-{second['id']} .count")).to_have_text("0")
            expect(page.locator(f"#cards-{needs_date['id']} > #deal-{deal_id}")).to_be_visible()
            deal = _api(page, f"/api/v1/deals/{deal_id}/")
            assert (deal["stage"], deal["expected_close_date"]) == (needs_date["id"], close_date.isoformat())
            _shot(page, lang, "7-board-after-moves", full_page=False)

            step("dragged")
            # The deal's page before closing: the stage bar at the new stage, the date filled in.
            page.goto(f"{portal}/crm/deals/{deal_id}/")
            expect(page.locator(".stage-badge")).to_have_text(texts["stage"])
            current = page.locator("#stage-bar .stage.current span")
            expect(current).to_have_text(texts["stage"])
            assert current.evaluate("e => e.scrollWidth <= e.clientWidth"), "the current stage's name is cut short"
            _shot(page, lang, "8-deal")

            # 6. Closed as won: dragged into the won column (Polish run) or the deal page's button (English run).
            if lang == "pl":
                page.goto(f"{portal}/crm/deals/board/{pipeline_id}/")
                _drag_card(page, deal_id, won["id"])
                expect(page.locator(f"#stage-head-{won['id']} .count")).to_have_text("1")
                expect(page.locator(f"#stage-head-{needs_date['id']} .count")).to_have_text("0")
                if dialog.get_attribute("open") is not None:  # only if the won stage asked for something
                    raise AssertionError(f"the won stage asked for fields: {dialog.inner_text()}")
                page.goto(f"{portal}/crm/deals/{deal_id}/")
            else:
                page.locator("#stage-bar .close-deal button.won").click()
                expect(page.locator("#stage-bar .close-deal .badge.ok")).to_be_visible()
                page.reload()
            expect(page.locator("#stage-bar .close-deal .badge.ok")).to_be_visible()
            expect(page.locator(".stage-badge")).to_have_text(won["name"])
            deal = _api(page, f"/api/v1/deals/{deal_id}/")
            assert deal["stage"] == won["id"] and deal["closed_at"], deal
            _shot(page, lang, "9-deal-won")
            page.goto(f"{portal}/crm/deals/board/{pipeline_id}/")
            expect(page.locator(f"#cards-{won['id']} > #deal-{deal_id}")).to_be_visible()

            step("won")
            # The checklist noticed the pipeline change and the first deal.
            page.goto(f"{portal}/")
            percent_after = int(page.locator("section.setup .setup-progress").get_attribute("aria-valuenow"))
            assert percent_after > percent_before, (percent_before, percent_after)
            _shot(page, lang, "10-dashboard-after")

            # 7. Phone size (Polish run): the dashboard and the board, screenshots only.
            if lang == "pl":
                phone = browser.new_context(storage_state=context.storage_state(), locale="pl-PL",
                                            extra_http_headers={"Accept-Language": "pl"},
                                            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
                phone.set_default_timeout(TIMEOUT)
                small = phone.new_page()
                small.goto(f"{portal}/")
                expect(small.locator("section.setup")).to_be_visible()
                small.screenshot(path=str(ARTIFACTS / "journey-pl-phone-dashboard.png"), full_page=True)
                assert small.evaluate(WIDTH) <= 390, "the dashboard is wider than a phone"
                small.goto(f"{portal}/crm/deals/board/{pipeline_id}/")
                expect(small.locator(".board-column").first).to_be_visible()
                small.screenshot(path=str(ARTIFACTS / "journey-pl-phone-board.png"))
                # The board scrolls sideways inside itself; the page does not.
                assert small.evaluate(WIDTH) <= 390, "the board page is wider than a phone"
                phone.close()

            step("phone")
            assert not problems, problems
            browser.close()
    finally:
        expect.set_options(timeout=None)  # back to Playwright's default for the tests that follow
    print(f"\njourney in {lang}: {time.perf_counter() - started:.1f} s ({', '.join(timings)})")
