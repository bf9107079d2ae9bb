"""The deal board: columns with their totals, cards, moving by drag (htmx) and by the keyboard form
(without JavaScript), the dialog that asks for what a stage requires, "Load more" by keyset, card
fields, a quick new deal, permissions and portal isolation, and query counts that do not grow with
the number of deals."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from crm.core.custom_fields import create_custom_field
from crm.core.models import ChangeEntry
from crm.core.tests.test_api import create, member_client, owner_of
from crm.deals import services as deals
from crm.deals.models import Deal, Pipeline, Stage, StageKind
from identity.members.models import FieldAccess, FieldRule, Role

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
BOARD = "/crm/deals/board/"


def _pipeline(portal) -> tuple[Pipeline, dict[str, Stage]]:
    with tenant_context(portal.tenant):
        pipeline = deals.default_pipeline()
        stages = list(pipeline.stages.order_by("position", "id"))
        named = {"new": stages[0], "qualification": stages[1], "offer": stages[2], "negotiation": stages[3]}
        named["won"] = next(stage for stage in stages if stage.kind == StageKind.WON)
        named["lost"] = next(stage for stage in stages if stage.kind == StageKind.LOST)
        return pipeline, named


def _stages_of(portal) -> dict[str, Stage]:
    return _pipeline(portal)[1]


def _deal(portal, title: str, stage: Stage, actor=None, **values):
    return create(portal, "deal", {"title": title, "pipeline": stage.pipeline_id, "stage": stage.pk, **values},
                  actor=actor)


def _many_deals(portal, stage: Stage, count: int, *, title: str = "Serwis klimatyzacji") -> None:
    """Volume for speed tests, written in one statement (the services are tested elsewhere)."""
    with tenant_context(portal.tenant):
        owner = owner_of(portal)
        Deal.objects.bulk_create([
            Deal(title=f"{title} {index:04d}", value=Decimal("1200.00") + index, currency="PLN",
                 pipeline_id=stage.pipeline_id, stage=stage, probability=stage.probability, owner=owner,
                 board_position=float(index * 1024)) for index in range(count)])


def _card_ids(html: str, stage: Stage) -> list[int]:
    column = html.split(f'id="cards-{stage.pk}"', 1)[1].split('class="column-more"', 1)[0]
    return [int(pk) for pk in re.findall(r'<article class="deal-card[^"]*" id="deal-(\d+)"', column)]


def _trigger(response) -> dict:
    return json.loads(response.get("HX-Trigger") or "{}")


# --- the board --------------------------------------------------------------------------------------------------

def test_the_board_shows_every_stage_with_count_value_and_weighted_value_in_the_portal_currency(portal_a):
    pipeline, stages = _pipeline(portal_a)
    _deal(portal_a, "Wdrożenie CRM dla 25 osób", stages["offer"], value="48000", expected_close_date="2020-01-15")
    _deal(portal_a, "Serwis roczny klimatyzacji", stages["offer"], value="12600")
    _deal(portal_a, "Licencje dla oddziału w Berlinie", stages["offer"], value="1000", currency="EUR")
    response = portal_a.client(logged_in=True).get(BOARD, HTTP_ACCEPT_LANGUAGE="pl")
    assert response.status_code == 200
    html = response.content.decode()
    with tenant_context(portal_a.tenant):
        names = list(pipeline.stages.order_by("position", "id").values_list("name", flat=True))
    assert [html.index(f">{name}</h2>") for name in names] == sorted(html.index(f">{name}</h2>") for name in names)
    head = html.split(f'id="stage-head-{stages["offer"].pk}"', 1)[1].split("</header>", 1)[0]
    assert ">3</span>" in head
    assert "60\xa0600,00\xa0zł" in head  # PLN only: the EUR deal is never added to it
    assert "30\xa0300,00\xa0zł" in head  # weighted by the stage's 50 %
    assert "+ 1\xa0000,00\xa0€" in head
    card = html.split("Wdrożenie CRM dla 25 osób", 1)[1].split("</article>", 1)[0]
    assert "48\xa0000,00\xa0zł" in card and 'class="deal-date overdue"' in card and ">JK<" in card


def test_the_board_needs_few_queries_whether_the_pipeline_holds_5_or_300_deals(portal_a):
    stages = _stages_of(portal_a)
    client = portal_a.client(logged_in=True)
    client.get(BOARD)  # warm the session and caches

    def measure() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(BOARD).status_code == 200
        return len(queries)

    _many_deals(portal_a, stages["new"], 5)
    few = measure()
    _many_deals(portal_a, stages["qualification"], 150, title="Audyt księgowy")
    _many_deals(portal_a, stages["negotiation"], 145, title="Nasadzenia wiosenne")
    many = measure()
    assert few == many, (few, many)
    assert many <= 12


def test_a_column_shows_its_first_cards_and_loads_the_rest_by_keyset(portal_a, django_assert_max_num_queries):
    pipeline, stages = _pipeline(portal_a)
    _many_deals(portal_a, stages["new"], 65)
    client = portal_a.client(logged_in=True)
    html = client.get(BOARD).content.decode()
    first = _card_ids(html, stages["new"])
    assert len(first) == 30
    more = html.split(f'id="more-{stages["new"].pk}"', 1)[1].split("</div>", 1)[0]
    cursor = re.search(r'cursor=([^"&]+)', more).group(1)
    assert "35" in more
    url = f"/crm/deals/board/{pipeline.pk}/stages/{stages['new'].pk}/more/?cursor={cursor}"
    with django_assert_max_num_queries(10):
        page = client.get(url, **HTMX)
    second = [int(pk) for pk in re.findall(r'id="deal-(\d+)"', page.content.decode())]
    assert len(second) == 30 and not set(first) & set(second)
    assert 'hx-swap-oob="true"' in page.content.decode() and "5" in page.content.decode().split("column-more")[1]
    cursor = re.search(r'cursor=([^"&]+)', page.content.decode()).group(1)
    last = client.get(f"/crm/deals/board/{pipeline.pk}/stages/{stages['new'].pk}/more/?cursor={cursor}", **HTMX)
    third = [int(pk) for pk in re.findall(r'id="deal-(\d+)"', last.content.decode())]
    assert len(third) == 5 and "Load more" not in last.content.decode()
    # Without JavaScript "Load more" is a link to the board with more cards of that column.
    everything = client.get(f"{BOARD}{pipeline.pk}/?column={stages['new'].pk}&limit=300").content.decode()
    assert _card_ids(everything, stages["new"]) == first + second + third


def test_a_member_with_own_scope_sees_only_their_deals_and_totals(portal_a):
    stages = _stages_of(portal_a)
    client, member_pk = member_client(portal_a, "anna.nowak@alfa-handel.pl", "salesperson", "Anna Nowak")
    with tenant_context(portal_a.tenant):
        from identity.members.models import Membership

        member = Membership.objects.get(pk=member_pk)
    _deal(portal_a, "Dostawa mąki — kontrakt kwartalny", stages["new"], value="31500", owner=member.pk)
    _deal(portal_a, "Modernizacja stacji uzdatniania", stages["new"], value="185000")
    html = client.get(BOARD).content.decode()
    assert "Dostawa mąki" in html and "Modernizacja stacji" not in html
    head = html.split(f'id="stage-head-{stages["new"].pk}"', 1)[1].split("</header>", 1)[0]
    assert ">1</span>" in head and "31\xa0500,00" in head and "185\xa0000" not in head


def test_the_search_box_and_only_mine_narrow_cards_and_totals(portal_a):
    stages = _stages_of(portal_a)
    _client, colleague = member_client(portal_a, "ewa.szymanska@alfa-handel.pl", "salesperson", "Ewa Szymańska")
    _deal(portal_a, "Żółta hala — oświetlenie", stages["new"], value="38900")
    _deal(portal_a, "Monitoring parkingu", stages["new"], value="15750", owner=colleague)
    client = portal_a.client(logged_in=True)
    found = client.get(f"{BOARD}?q=zolta+hala").content.decode()  # without diacritics, any case
    assert "Żółta hala" in found and "Monitoring parkingu" not in found
    assert "38\xa0900,00" in found.split(f'id="stage-head-{stages["new"].pk}"', 1)[1].split("</header>", 1)[0]
    mine = client.get(f"{BOARD}?mine=1").content.decode()
    assert "Żółta hala" in mine and "Monitoring parkingu" not in mine
    assert 'name="mine" value="1" checked' in mine


def test_fields_the_role_may_not_see_stay_off_the_cards_and_the_totals(portal_a):
    stages = _stages_of(portal_a)
    client, member_pk = member_client(portal_a, "stazysta@alfa-handel.pl", "crm_manager", "Stefan Stażysta")
    with tenant_context(portal_a.tenant):
        role = Role.objects.get(code="crm_manager")
        FieldRule.objects.create(role=role, entity="deal", field="value", access=FieldAccess.HIDDEN)
        FieldRule.objects.create(role=role, entity="deal", field="stage", access=FieldAccess.READ)
    deal = _deal(portal_a, "Modernizacja stacji uzdatniania", stages["new"], value="185000", owner=member_pk)
    html = client.get(BOARD).content.decode()
    assert "Modernizacja stacji" in html and "185\xa0000" not in html
    assert 'class="sum' not in html and "zł" not in html  # no column sums: they would tell the values
    assert 'name="fields" value="value"' not in html and 'name="fields" value="company"' in html
    assert f'class="deal-card locked" id="deal-{deal.pk}"' in html  # the stage is read only for this role
    refused = client.post(f"{BOARD}move/{deal.pk}/", {"stage": stages["qualification"].pk},
                          HTTP_ACCEPT_LANGUAGE="en", **HTMX)
    assert "deals:refused" in _trigger(refused) and "errors" in refused.content.decode()
    with tenant_context(portal_a.tenant):
        deal.refresh_from_db()
        assert deal.stage_id == stages["new"].pk


def test_a_member_without_the_right_to_read_deals_is_refused(portal_a):
    client, _pk = member_client(portal_a, "gosc@alfa-handel.pl", "no_access", "Gość Bez Dostępu")
    assert client.get(BOARD).status_code == 403


def test_pipelines_switch_and_a_pipeline_closed_to_a_role_is_not_found(portal_a):
    with tenant_context(portal_a.tenant):
        tenders = deals.create_pipeline(name="Przetargi publiczne",
                                        allowed_roles=[Role.objects.get(code="crm_manager")])
    admin = portal_a.client(logged_in=True).get(BOARD).content.decode()
    assert f'href="/crm/deals/board/{tenders.pk}/"' in admin and "Przetargi publiczne" in admin
    assert portal_a.client(logged_in=True).get(f"{BOARD}{tenders.pk}/").status_code == 200
    client, _pk = member_client(portal_a, "jan.kowalczyk@alfa-handel.pl", "salesperson", "Jan Kowalczyk")
    assert "Przetargi publiczne" not in client.get(BOARD).content.decode()
    assert client.get(f"{BOARD}{tenders.pk}/").status_code == 404


# --- moving by drag (htmx) --------------------------------------------------------------------------------------

def test_dropping_a_card_moves_the_deal_writes_history_and_refreshes_the_column_totals(portal_a):
    stages = _stages_of(portal_a)
    deal = _deal(portal_a, "Audyt księgowy", stages["new"], value="7800")
    client = portal_a.client(logged_in=True)
    response = client.post(f"{BOARD}move/{deal.pk}/", {"stage": stages["qualification"].pk, "after": "",
                                                       "via": "drag"}, **HTMX)
    assert response.status_code == 200
    assert _trigger(response)["deals:moved"] == {"deal": deal.pk, "stage": stages["qualification"].pk, "after": None}
    html = response.content.decode()
    assert f'id="stage-head-{stages["qualification"].pk}" hx-swap-oob="true"' in html
    assert f'id="deal-{deal.pk}"' in html
    with tenant_context(portal_a.tenant):
        deal.refresh_from_db()
        assert deal.stage_id == stages["qualification"].pk and deal.probability == stages["qualification"].probability
        assert ChangeEntry.objects.filter(entity="deal", record_id=deal.pk, field="stage").exists()


def test_a_card_dropped_on_won_refreshes_the_open_pipeline_summary_at_the_head(portal_a):
    stages = _stages_of(portal_a)
    _deal(portal_a, "Serwis klimatyzacji", stages["new"], value="1000")
    won = _deal(portal_a, "Wdrożenie systemu", stages["new"], value="2500")
    client = portal_a.client(logged_in=True)
    before = client.get(BOARD).content.decode().split('id="board-summary"', 1)[1].split("</p>", 1)[0]
    assert "3\xa0500,00" in before
    response = client.post(f"{BOARD}move/{won.pk}/", {"stage": stages["won"].pk, "after": "", "via": "drag"}, **HTMX)
    html = response.content.decode()
    assert 'id="board-summary" aria-live="polite" hx-swap-oob="true"' in html
    after = html.split('id="board-summary"', 1)[1].split("</p>", 1)[0]
    assert "1\xa0000,00" in after and "3\xa0500,00" not in after


def test_dropping_a_card_below_another_keeps_that_order(portal_a):
    stages = _stages_of(portal_a)
    first = _deal(portal_a, "Nasadzenia wiosenne", stages["new"])
    second = _deal(portal_a, "Szkolenie z obsługi kasy", stages["new"])
    third = _deal(portal_a, "Abonament na oprogramowanie", stages["new"])
    client = portal_a.client(logged_in=True)
    assert _card_ids(client.get(BOARD).content.decode(), stages["new"]) == [third.pk, second.pk, first.pk]
    client.post(f"{BOARD}move/{third.pk}/", {"stage": stages["new"].pk, "after": first.pk}, **HTMX)
    assert _card_ids(client.get(BOARD).content.decode(), stages["new"]) == [second.pk, first.pk, third.pk]
    client.post(f"{BOARD}move/{first.pk}/", {"stage": stages["new"].pk, "after": ""}, **HTMX)  # to the top
    assert _card_ids(client.get(BOARD).content.decode(), stages["new"]) == [first.pk, second.pk, third.pk]


def test_a_stage_with_required_fields_asks_exactly_for_them_and_then_moves_the_deal(portal_a):
    stages = _stages_of(portal_a)
    with tenant_context(portal_a.tenant):
        create_custom_field(entity="deal", code="numer_przetargu", label="Numer przetargu", field_type="text")
        deals.update_stage(stage=stages["offer"], required_fields=["expected_close_date", "custom.numer_przetargu"])
        company = create(portal_a, "company", {"name": "Miejskie Wodociągi"})
    deal = _deal(portal_a, "Modernizacja stacji uzdatniania", stages["new"], company=company.pk)
    client = portal_a.client(logged_in=True)
    url = f"{BOARD}move/{deal.pk}/"
    asked = client.post(url, {"stage": stages["offer"].pk, "after": ""}, **HTMX)
    assert asked.status_code == 200 and "deals:refused" in _trigger(asked)
    html = asked.content.decode()
    fields = set(re.findall(r'name="f-([\w]+)"', html))
    assert fields == {"expected_close_date", "custom__numer_przetargu"}
    assert "Numer przetargu" in html
    with tenant_context(portal_a.tenant):
        deal.refresh_from_db()
        assert deal.stage_id == stages["new"].pk

    retry = {"stage": stages["offer"].pk, "after": "", "asked": ["expected_close_date", "custom.numer_przetargu"]}
    blank = client.post(url, retry | {"f-expected_close_date": "", "f-custom__numer_przetargu": "ZP/12/2026"},
                        HTTP_ACCEPT_LANGUAGE="en", **HTMX)
    assert "deals:refused" in _trigger(blank)
    assert "field-error" in blank.content.decode() and "Required to move the deal" in blank.content.decode()

    done = client.post(url, retry | {"f-expected_close_date": "2026-06-30", "f-custom__numer_przetargu": "ZP/12/2026"},
                       **HTMX)
    assert "deals:moved" in _trigger(done) and "kompas:saved" in _trigger(done)
    with tenant_context(portal_a.tenant):
        deal.refresh_from_db()
        assert deal.stage_id == stages["offer"].pk and str(deal.expected_close_date) == "2026-06-30"
        assert deal.custom["numer_przetargu"] == "ZP/12/2026"


def test_moving_to_a_lost_stage_asks_for_the_reason(portal_a):
    stages = _stages_of(portal_a)
    deal = _deal(portal_a, "Dostawa mąki — kontrakt kwartalny", stages["negotiation"])
    client = portal_a.client(logged_in=True)
    url = f"{BOARD}move/{deal.pk}/"
    asked = client.post(url, {"stage": stages["lost"].pk}, **HTMX)
    assert set(re.findall(r'name="f-([\w]+)"', asked.content.decode())) == {"lost_reason"}
    client.post(url, {"stage": stages["lost"].pk, "asked": "lost_reason", "f-lost_reason": "Wybrali tańszą ofertę"},
                **HTMX)
    with tenant_context(portal_a.tenant):
        deal.refresh_from_db()
        assert deal.stage_id == stages["lost"].pk and deal.lost_reason == "Wybrali tańszą ofertę"
        assert deal.closed_at is not None


def test_a_refused_move_is_shown_never_swallowed(portal_a):
    stages = _stages_of(portal_a)
    deal = _deal(portal_a, "Serwis roczny klimatyzacji", stages["new"])
    client, _pk = member_client(portal_a, "konsultant@alfa-handel.pl", "consultant", "Karol Konsultant")
    board = client.get(BOARD).content.decode()
    card = board.split(f'id="deal-{deal.pk}"', 1)[1].split("</article>", 1)[0]
    assert "card-move" not in card  # may read, may not move: no "Move" button, not draggable
    assert f'class="deal-card locked" id="deal-{deal.pk}"' in board
    refused = client.post(f"{BOARD}move/{deal.pk}/", {"stage": stages["qualification"].pk}, HTTP_ACCEPT_LANGUAGE="en",
                          **HTMX)
    assert "deals:refused" in _trigger(refused)
    assert "You have no permission" in refused.content.decode()
    page = client.post(f"{BOARD}move/{deal.pk}/", {"stage": stages["qualification"].pk}, HTTP_ACCEPT_LANGUAGE="en",
                       follow=True)
    assert "You have no permission" in page.content.decode()
    with tenant_context(portal_a.tenant):
        deal.refresh_from_db()
        assert deal.stage_id == stages["new"].pk


def test_a_stage_of_another_pipeline_the_member_may_not_use_is_refused(portal_a):
    stages = _stages_of(portal_a)
    with tenant_context(portal_a.tenant):
        closed = deals.create_pipeline(name="Zarząd", allowed_roles=[Role.objects.get(code="crm_manager")])
        target = closed.stages.order_by("position").first()
    client, member_pk = member_client(portal_a, "ola.wrona@alfa-handel.pl", "salesperson", "Ola Wrona")
    deal = _deal(portal_a, "Szkolenie z obsługi kasy", stages["new"], owner=member_pk)
    refused = client.post(f"{BOARD}move/{deal.pk}/", {"stage": target.pk}, HTTP_ACCEPT_LANGUAGE="en", **HTMX)
    assert "deals:refused" in _trigger(refused) and "Choose a stage" in refused.content.decode()


# --- moving with the keyboard, without JavaScript ---------------------------------------------------------------

def test_the_move_form_works_without_javascript_and_redirects_back(portal_a):
    pipeline, stages = _pipeline(portal_a)
    deal = _deal(portal_a, "Wdrożenie CRM dla 25 osób", stages["new"], value="48000")
    client = portal_a.client(logged_in=True)
    form = client.get(f"{BOARD}move/{deal.pk}/?next=/crm/deals/board/{pipeline.pk}/%3Fmine%3D1")
    html = form.content.decode()
    assert form.status_code == 200 and "<select" in html and 'value="up"' in html and 'value="down"' in html
    assert f'<option value="{stages["negotiation"].pk}"' in html
    moved = client.post(f"{BOARD}move/{deal.pk}/", {"stage": stages["negotiation"].pk, "via": "menu",
                                                    "next": f"/crm/deals/board/{pipeline.pk}/?mine=1"})
    assert moved.status_code == 302 and moved["Location"] == f"/crm/deals/board/{pipeline.pk}/?mine=1"
    outside = client.post(f"{BOARD}move/{deal.pk}/", {"stage": stages["new"].pk, "next": "https://example.com/"})
    assert outside["Location"] == f"/crm/deals/board/{pipeline.pk}/"
    # A stage that requires fields answers with a page asking for them (no dialog without JavaScript).
    asked = client.post(f"{BOARD}move/{deal.pk}/", {"stage": stages["lost"].pk})
    assert asked.status_code == 200 and 'name="f-lost_reason"' in asked.content.decode()
    assert "<html" in asked.content.decode()


def test_up_and_down_reorder_a_card_within_its_column(portal_a):
    stages = _stages_of(portal_a)
    bottom = _deal(portal_a, "Audyt księgowy", stages["qualification"])
    middle = _deal(portal_a, "Nasadzenia wiosenne", stages["qualification"])
    top = _deal(portal_a, "Szkolenie z obsługi kasy", stages["qualification"])
    client = portal_a.client(logged_in=True)

    def order() -> list[int]:
        return _card_ids(client.get(BOARD).content.decode(), stages["qualification"])

    assert order() == [top.pk, middle.pk, bottom.pk]
    client.post(f"{BOARD}move/{top.pk}/", {"direction": "down"})
    assert order() == [middle.pk, top.pk, bottom.pk]
    client.post(f"{BOARD}move/{bottom.pk}/", {"direction": "up"})
    assert order() == [middle.pk, bottom.pk, top.pk]
    client.post(f"{BOARD}move/{bottom.pk}/", {"direction": "up"})
    assert order() == [bottom.pk, middle.pk, top.pk]
    same = client.post(f"{BOARD}move/{bottom.pk}/", {"direction": "up"}, **HTMX)  # already first: nothing happens
    assert "deals:moved" not in _trigger(same) and order() == [bottom.pk, middle.pk, top.pk]
    again = client.post(f"{BOARD}move/{middle.pk}/", {"direction": "down"}, **HTMX)
    assert _trigger(again)["deals:moved"]["after"] == top.pk
    assert "kompas:saved" not in _trigger(again) and 'value="down" autofocus' in again.content.decode()
    assert order() == [bottom.pk, top.pk, middle.pk]


# --- card fields and a new deal ---------------------------------------------------------------------------------

def test_card_fields_are_chosen_per_person_and_kept(portal_a):
    stages = _stages_of(portal_a)
    with tenant_context(portal_a.tenant):
        create_custom_field(entity="deal", code="branza", label="Branża", field_type="text")
        company = create(portal_a, "company", {"name": "Piekarnia Żytnia s.c."})
    _deal(portal_a, "Dostawa mąki", stages["new"], company=company.pk, custom={"branza": "Piekarnictwo"})
    client = portal_a.client(logged_in=True)
    html = client.get(BOARD).content.decode()
    assert "Piekarnia Żytnia s.c." in html.split('id="deal-', 1)[1] and "Piekarnictwo" not in html
    saved = client.post(f"{BOARD}card-fields/", {"fields": ["value", "probability", "custom.branza", "nonsense"],
                                                 "next": BOARD})
    assert saved.status_code == 302
    cookie = next(morsel for name, morsel in saved.cookies.items() if name.startswith("deal_card_fields_"))
    assert cookie.value == "value,probability,custom.branza"
    card = client.get(BOARD).content.decode().split('id="deal-', 1)[1].split("</article>", 1)[0]
    assert "Piekarnictwo" in card and "10%" in card and "Piekarnia Żytnia" not in card


def test_a_quick_new_deal_lands_in_the_chosen_stage(portal_a):
    pipeline, stages = _pipeline(portal_a)
    client = portal_a.client(logged_in=True)
    url = f"{BOARD}{pipeline.pk}/new/"
    dialog = client.get(url, **HTMX).content.decode()
    assert 'name="f-title"' in dialog and 'name="stage"' in dialog and f'value="{stages["lost"].pk}"' not in dialog
    refused = client.post(url, {"f-title": "Oferta", "f-value": "dużo", "stage": stages["offer"].pk},
                          HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400 and "field-error" in refused.content.decode()
    created = client.post(url, {"f-title": "Serwis wind w biurowcu", "f-value": "22400", "f-currency": "PLN",
                                "stage": stages["offer"].pk}, **HTMX)
    assert created.status_code == 204 and created["HX-Redirect"] == f"/crm/deals/board/{pipeline.pk}/"
    with tenant_context(portal_a.tenant):
        deal = Deal.objects.get(title="Serwis wind w biurowcu")
        assert deal.stage_id == stages["offer"].pk and deal.value == Decimal("22400")
        assert ChangeEntry.objects.filter(entity="deal", record_id=deal.pk, kind="created").exists()


# --- isolation --------------------------------------------------------------------------------------------------

def test_a_deal_of_portal_b_is_not_found_on_portal_a(portal_a, portal_b):
    stages_b = _stages_of(portal_b)
    with tenant_context(portal_a.tenant):
        taken = set(Deal.objects.values_list("pk", flat=True))
    deal = _deal(portal_b, "Serwis sieci wodociągowej", stages_b["new"])
    while deal.pk in taken:
        deal = _deal(portal_b, "Serwis sieci wodociągowej", stages_b["new"])
    stages_a = _stages_of(portal_a)
    client = portal_a.client(logged_in=True)
    assert client.get(f"{BOARD}move/{deal.pk}/").status_code == 404
    assert client.post(f"{BOARD}move/{deal.pk}/", {"stage": stages_a["qualification"].pk}).status_code == 404
    with tenant_context(portal_b.tenant):
        deal.refresh_from_db()
        assert deal.stage_id == stages_b["new"].pk


def test_posts_with_a_session_of_portal_a_are_refused_on_portal_b(portal_a, portal_b):
    stages_b = _stages_of(portal_b)
    deal = _deal(portal_b, "Przegląd instalacji", stages_b["new"])
    client = portal_a.client(logged_in=True)
    for path, data in [(f"{BOARD}move/{deal.pk}/", {"stage": stages_b["qualification"].pk}),
                       (f"{BOARD}card-fields/", {"fields": ["value"]}),
                       (f"{BOARD}{stages_b['new'].pipeline_id}/new/",
                        {"f-title": "Włamanie", "stage": stages_b["new"].pk})]:
        response = client.post(path, data, HTTP_HOST=portal_b.host)
        assert response.status_code in (302, 403, 404), path
        if response.status_code == 302:
            assert "/auth/login/" in response["Location"]
    with tenant_context(portal_b.tenant):
        deal.refresh_from_db()
        assert deal.stage_id == stages_b["new"].pk and not Deal.objects.filter(title="Włamanie").exists()
