"""The weighted forecast: open deals' value × their stage's probability, by expected close month,
per pipeline or owner, in each deal's own currency (amounts in different currencies never add up)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Sum
from django.db.models.functions import TruncMonth

from crm.core import selectors
from crm.deals.models import StageKind

GROUPS = ("pipeline", "owner", "month")
_KEYS = {"pipeline": ("pipeline_id", "pipeline__name"),
         "owner": ("owner_id", "owner__user__full_name", "owner__user__email")}


@dataclass
class ForecastRow:
    key: object  # pipeline id, owner id (None: nobody) or None when grouped by month only
    label: str
    currency: str
    month: datetime.date | None  # the first day of the month; None: no expected close date
    weighted: Decimal
    total: Decimal
    count: int


@dataclass
class ForecastTable:
    """Rows (group × currency) by columns (months, "no date" last) with totals per row and per
    column, each per currency."""

    group_by: str
    months: list[datetime.date | None]
    rows: list[dict] = field(default_factory=list)
    totals: list[dict] = field(default_factory=list)


def _label(group_by: str, item: dict) -> str:
    if group_by == "pipeline":
        return item["pipeline__name"]
    if group_by == "owner":
        if item["owner_id"] is None:
            return ""
        return item["owner__user__full_name"] or item["owner__user__email"]
    return ""


def forecast(actor, *, group_by: str = "pipeline", pipeline=None) -> list[ForecastRow]:
    """One aggregate query over the open deals the actor may read."""
    if group_by not in GROUPS:
        raise ValueError(group_by)
    deals = selectors.records(actor, "deal").filter(stage__kind=StageKind.OPEN)
    if pipeline is not None:
        deals = deals.filter(pipeline=pipeline)
    weighted = ExpressionWrapper(F("value") * F("stage__probability") / 100,
                                 output_field=DecimalField(max_digits=20, decimal_places=4))
    keys = _KEYS.get(group_by, ())
    found = (deals.order_by().annotate(month=TruncMonth("expected_close_date"))
             .values(*keys, "currency", "month")
             .annotate(weighted=Sum(weighted), total=Sum("value"), count=Count("id")))
    rows = []
    for item in found:
        month = item["month"]
        if isinstance(month, datetime.datetime):
            month = month.date()
        rows.append(ForecastRow(key=item[keys[0]] if keys else None, label=_label(group_by, item),
                                currency=item["currency"], month=month,
                                weighted=(item["weighted"] or Decimal(0)).quantize(Decimal("0.01")),
                                total=item["total"] or Decimal(0), count=item["count"]))
    rows.sort(key=lambda r: (r.month is None, r.month or datetime.date.min, r.label, r.currency))
    return rows


def forecast_table(rows: list[ForecastRow], group_by: str) -> ForecastTable:
    months = sorted({r.month for r in rows}, key=lambda m: (m is None, m or datetime.date.min))
    groups: dict[tuple, dict] = {}
    totals: dict[str, dict] = {}
    for row in rows:
        group = groups.setdefault((row.label.lower(), row.key, row.currency), {
            "key": row.key, "label": row.label, "currency": row.currency, "cells": {}, "weighted": Decimal(0),
            "count": 0})
        group["cells"][row.month] = group["cells"].get(row.month, Decimal(0)) + row.weighted
        group["weighted"] += row.weighted
        group["count"] += row.count
        total = totals.setdefault(row.currency, {"currency": row.currency, "cells": {}, "weighted": Decimal(0),
                                                 "count": 0})
        total["cells"][row.month] = total["cells"].get(row.month, Decimal(0)) + row.weighted
        total["weighted"] += row.weighted
        total["count"] += row.count
    table = ForecastTable(group_by, months)
    for _key, group in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][2])):
        group["values"] = [group["cells"].get(month) for month in months]
        table.rows.append(group)
    for currency in sorted(totals):
        total = totals[currency]
        total["values"] = [total["cells"].get(month) for month in months]
        table.totals.append(total)
    return table
