from decimal import Decimal

from django import template
from django.template.defaultfilters import filesizeformat
from django.utils.formats import number_format
from django.utils.translation import gettext as _

register = template.Library()


def _amount(resource: str, value: int | None) -> str:
    if value is None:
        return _("unlimited")
    if resource == "storage_mb":
        return filesizeformat(value * 1024 * 1024)
    return number_format(value, force_grouping=True)


@register.filter
def usage_of_limit(line) -> str:
    """"5 of 10", "22 MB of 17 GB", "3 (unlimited)"."""
    used = _amount(line.resource, line.used)
    if line.limit is None:
        return _("%(used)s (no limit)") % {"used": used}
    return _("%(used)s of %(limit)s") % {"used": used, "limit": _amount(line.resource, line.limit)}


@register.filter
def limit_text(plan, resource: str) -> str:
    return _amount(resource, plan.limit(resource)) if not (plan.per_seat and resource == "seats") else _("per user")


@register.filter
def price_for(plan, term: str):
    """``plan|price_for:"PLN-month"`` → the PlanPrice or None."""
    currency, interval = term.split("-")
    for price in plan.prices.all():
        if price.currency == currency and price.interval == interval:
            return price
    return None


@register.filter
def money(amount: Decimal | int | None, currency: str = "") -> str:
    if amount is None:
        return ""
    return f"{number_format(amount, decimal_pos=2, force_grouping=True)} {currency}".strip()


@register.filter
def minor_units(amount: int, currency: str) -> str:
    return money(Decimal(amount) / 100, currency)
