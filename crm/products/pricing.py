"""Amounts of quote and invoice lines and their totals, with Polish VAT rules.

Each line: net = quantity × unit net price × (1 − discount), rounded to grosze. The VAT of a
document is computed per rate from the sum of the net amounts at that rate ("od sumy wartości
netto", art. 106e of the VAT act allows it and it is what Polish invoicing software does by
default), rounded half up to the grosz; gross = net + VAT per rate. A line's own VAT and gross are
shown rounded, and the document totals are the sums per rate, never the sum of rounded lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

GROSZ = Decimal("0.01")
# Polish rates; "zw" (exempt) and "np" (not subject) carry no VAT; "oo" is reverse charge.
VAT_RATES = {"23": Decimal("0.23"), "8": Decimal("0.08"), "5": Decimal("0.05"), "0": Decimal("0"),
             "zw": Decimal("0"), "np": Decimal("0"), "oo": Decimal("0")}


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(GROSZ, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineAmounts:
    net: Decimal
    vat: Decimal
    gross: Decimal


def line_amounts(*, quantity, unit_price, discount_percent=0, vat_rate: str = "23") -> LineAmounts:
    """One line; ``unit_price`` is net, ``discount_percent`` 0–100."""
    rate = VAT_RATES[vat_rate]
    net = money(Decimal(str(quantity)) * Decimal(str(unit_price))
                * (Decimal(1) - Decimal(str(discount_percent or 0)) / Decimal(100)))
    vat = money(net * rate)
    return LineAmounts(net=net, vat=vat, gross=net + vat)


@dataclass(frozen=True)
class RateTotal:
    vat_rate: str
    net: Decimal
    vat: Decimal
    gross: Decimal


@dataclass(frozen=True)
class DocumentTotals:
    by_rate: list[RateTotal]
    net: Decimal
    vat: Decimal
    gross: Decimal


def document_totals(lines: Iterable[tuple[str, LineAmounts]], *, extra_net_by_rate: dict | None = None
                    ) -> DocumentTotals:
    """Totals of a document from (vat_rate, line amounts) pairs, VAT computed per rate."""
    nets: dict[str, Decimal] = {}
    for vat_rate, amounts in lines:
        nets[vat_rate] = nets.get(vat_rate, Decimal(0)) + amounts.net
    for vat_rate, amount in (extra_net_by_rate or {}).items():
        nets[vat_rate] = nets.get(vat_rate, Decimal(0)) + money(amount)
    by_rate = []
    for vat_rate in sorted(nets, key=lambda rate: -VAT_RATES[rate]):
        net = money(nets[vat_rate])
        vat = money(net * VAT_RATES[vat_rate])
        by_rate.append(RateTotal(vat_rate=vat_rate, net=net, vat=vat, gross=net + vat))
    net = sum((row.net for row in by_rate), Decimal(0))
    vat = sum((row.vat for row in by_rate), Decimal(0))
    return DocumentTotals(by_rate=by_rate, net=net, vat=vat, gross=net + vat)
