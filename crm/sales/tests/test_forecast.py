"""The weighted forecast: value × stage probability of open deals, per month, owner and pipeline,
never adding one currency to another; the actor's read scope applies; one query."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.core import services
from crm.deals.models import Deal
from crm.deals.services import create_pipeline
from crm.sales import selectors
from crm.sales.tests.helpers import in_portal, member, open_stages, owner_of, signed_in

pytestmark = pytest.mark.django_db
MARCH, APRIL = datetime.date(2026, 3, 15), datetime.date(2026, 4, 2)


def _deal(actor, stage, value, currency="PLN", close=None, owner=None, title="Deal"):
    values = {"title": title, "pipeline": stage.pipeline_id, "stage": stage.pk, "value": value, "currency": currency,
              "expected_close_date": close}
    if owner is not None:
        values["owner"] = owner.pk
    return services.create_record(actor=actor, code="deal", values={k: v for k, v in values.items() if v is not None})


def _setup(portal):
    owner = owner_of(portal)
    seller = member(portal, "sprzedawca@alfa.pl", "salesperson", "Ewa Sprzedawczyni")
    pipeline, stages = open_stages()
    first, second = stages[0], stages[1]
    for stage, probability in ((first, 20), (second, 50)):
        stage.probability = probability
        stage.save(update_fields=["probability"])
    other = create_pipeline(name="Serwis")
    other_stage = other.stages.order_by("position").first()
    if other_stage is None:
        from crm.deals.services import add_stage

        other_stage = add_stage(pipeline=other, name="Zgłoszenie", probability=10)
    other_stage.probability = 10
    other_stage.save(update_fields=["probability"])
    _deal(owner, first, "1000", close=MARCH)                    # 200 PLN, March, owner
    _deal(owner, second, "3000", close=MARCH, owner=seller)     # 1500 PLN, March, seller
    _deal(owner, second, "2000", currency="EUR", close=APRIL)   # 1000 EUR, April, owner
    _deal(owner, first, "500")                                  # 100 PLN, no date, owner
    _deal(owner, other_stage, "4000", close=APRIL, owner=seller)  # 400 PLN, April, seller, Serwis
    won = pipeline.stages.get(kind="won")
    _deal(owner, won, "99999", close=MARCH)                     # closed: not forecast
    return owner, seller, pipeline, other


def _cells(rows):
    return {(r.label, r.currency, r.month.strftime("%Y-%m") if r.month else None): r.weighted for r in rows}


def test_forecast_by_pipeline_owner_and_month_in_each_currency(portal_a):
    with in_portal(portal_a):
        owner, seller, pipeline, other = _setup(portal_a)
        by_month = _cells(selectors.forecast(owner, group_by="month"))
        assert by_month == {("", "PLN", "2026-03"): Decimal("1700.00"), ("", "EUR", "2026-04"): Decimal("1000.00"),
                            ("", "PLN", "2026-04"): Decimal("400.00"), ("", "PLN", None): Decimal("100.00")}
        by_pipeline = _cells(selectors.forecast(owner, group_by="pipeline"))
        assert by_pipeline[(pipeline.name, "PLN", "2026-03")] == Decimal("1700.00")
        assert by_pipeline[("Serwis", "PLN", "2026-04")] == Decimal("400.00")
        assert by_pipeline[(pipeline.name, "EUR", "2026-04")] == Decimal("1000.00")
        by_owner = _cells(selectors.forecast(owner, group_by="owner"))
        owner_name = owner.user.full_name
        assert by_owner[(owner_name, "PLN", "2026-03")] == Decimal("200.00")
        assert by_owner[("Ewa Sprzedawczyni", "PLN", "2026-03")] == Decimal("1500.00")
        assert by_owner[("Ewa Sprzedawczyni", "PLN", "2026-04")] == Decimal("400.00")
        only_serwis = _cells(selectors.forecast(owner, group_by="pipeline", pipeline=other))
        assert only_serwis == {("Serwis", "PLN", "2026-04"): Decimal("400.00")}

        table = selectors.forecast_table(selectors.forecast(owner, group_by="pipeline"), "pipeline")
        assert table.months[-1] is None
        totals = {t["currency"]: t["weighted"] for t in table.totals}
        assert totals == {"PLN": Decimal("2200.00"), "EUR": Decimal("1000.00")}

        # A salesperson reads only their own deals (own/department scope without a department).
        mine = _cells(selectors.forecast(seller, group_by="month"))
        assert mine == {("", "PLN", "2026-03"): Decimal("1500.00"), ("", "PLN", "2026-04"): Decimal("400.00")}

        with CaptureQueriesContext(connection) as queries:
            selectors.forecast(owner, group_by="owner")
        assert len(queries) == 1


def _many(portal, count):
    with in_portal(portal):
        pipeline, stages = open_stages()
        owner = owner_of(portal)
        Deal.objects.bulk_create([
            Deal(title=f"Umowa serwisowa {i}", value=Decimal("1000") + i, currency="PLN" if i % 3 else "EUR",
                 pipeline=pipeline, stage=stages[i % len(stages)], owner=owner,
                 expected_close_date=datetime.date(2026, 1 + i % 12, 1) if i % 5 else None)
            for i in range(count)])


def test_the_forecast_page_shows_months_and_totals_with_the_same_queries_for_3_or_30_deals(portal_a):
    client = portal_a.client(logged_in=True)
    _many(portal_a, 3)
    with CaptureQueriesContext(connection) as few:
        page = client.get("/crm/forecast/")
    assert page.status_code == 200
    _many(portal_a, 27)
    with CaptureQueriesContext(connection) as many:
        page = client.get("/crm/forecast/?group_by=owner")
    html = page.content.decode()
    assert page.status_code == 200 and "Joanna Kowalska" in html and ("€" in html or "EUR" in html)
    assert len(many) <= len(few) + 1, [q["sql"] for q in many.captured_queries]
    empty = portal_a.client(logged_in=True).get("/crm/forecast/?group_by=nonsense")
    assert empty.status_code == 200


def test_a_member_with_own_scope_sees_only_their_forecast_on_the_page_and_api(portal_a):
    with in_portal(portal_a):
        _owner, _seller, _pipeline, _other = _setup(portal_a)
    client = signed_in(portal_a, "sprzedawca@alfa.pl")
    html = client.get("/crm/forecast/").content.decode()
    assert "1\xa0900,00" in html and "EUR" not in html and "€" not in html
    api = client.get("/api/v1/forecast/?group_by=owner").json()
    assert {(row["label"], row["month"], row["weighted"]) for row in api["results"]} == {
        ("Ewa Sprzedawczyni", "2026-03", "1500.00"), ("Ewa Sprzedawczyni", "2026-04", "400.00")}
    assert client.get("/api/v1/forecast/?group_by=nonsense").status_code == 400
