"""Display helpers of the dashboard, task and notification pages: rounded money for summaries
("48 000 zł" in Polish, "PLN 48,000" in English) and short moments ("18 listopada, 10:00").
Amounts with decimals and other values: crm_format."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency
from django import template
from django.utils import timezone, translation

from crm.core.money import portal_currency

register = template.Library()

_CODE_BEFORE_DIGITS = re.compile(r"^([A-Z]{3})(?=[-\d])")


def format_whole_money(amount, currency: str | None = None) -> str:
    """An amount rounded to whole units with its currency (the portal's when none is given)."""
    try:
        number = Decimal(str(amount if amount not in (None, "") else 0))
    except InvalidOperation:
        return str(amount)
    currency = (currency or portal_currency()).upper()
    language = (translation.get_language() or "pl").replace("-", "_")
    try:
        locale = Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        locale = Locale.parse("pl")
    pattern = locale.currency_formats["standard"].pattern.replace(".00", "")
    text = format_currency(number.quantize(Decimal(1)), currency, locale=locale, format=pattern, currency_digits=False)
    # CLDR writes an ISO code glued to the digits in English ("PLN48,000.00"); a space reads better.
    return _CODE_BEFORE_DIGITS.sub("\\1\u00a0", text)


@register.filter
def money_whole(amount, currency: str | None = None) -> str:
    """``{{ total|money_whole:"PLN" }}`` — rounded to whole units, for summaries."""
    return format_whole_money(amount, currency)


@register.filter
def when(moment) -> str:
    """A date and time as people write it: "18 listopada, 10:00"; the year only when it is not this one."""
    from django.utils.dateformat import format as date_format

    if not moment:
        return ""
    if isinstance(moment, datetime.datetime):
        local = timezone.localtime(moment) if timezone.is_aware(moment) else moment
        pattern = "j E, H:i" if local.year == timezone.localdate().year else "j E Y, H:i"
        return date_format(local, pattern)
    pattern = "j E" if moment.year == timezone.localdate().year else "j E Y"
    return date_format(moment, pattern)
