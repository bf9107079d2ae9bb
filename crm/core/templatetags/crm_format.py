"""How the CRM shows values, in the reader's language and the portal's time zone and currency:

    {% load crm_format %}
    {{ deal.value|money:deal.currency }}   48 000,00 zł (pl) · PLN 48,000.00 (en)
    {{ contact.phones.0.value|phone }}     601 202 303 at home, +49 30 1234567 abroad
    {{ deal.expected_close_date|day }}     4 maj · 4 maj 2025 (another year) · May 4
    {{ record.updated_at|moment }}         4 maj 2026, 14:05
    {{ 1234567|number }}                   1 234 567

The functions are plain Python too (``format_money`` …) for code that builds cells outside templates.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton, format_time
from babel.numbers import format_currency, format_decimal
from django import template
from django.utils import timezone, translation

from crm.core.contact_points import format_phone
from crm.core.money import portal_currency

register = template.Library()

_CODE_BEFORE_DIGITS = re.compile(r"^([A-Z]{3})(?=[-\d])")


def _locale() -> Locale:
    language = (translation.get_language() or "pl").replace("-", "_")
    try:
        return Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        return Locale.parse("pl")


def _decimal(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def format_money(amount, currency: str | None = None) -> str:
    """An amount with its currency (the portal's when none is given); empty for no amount."""
    number = _decimal(amount)
    if number is None:
        return "" if amount in (None, "") else str(amount)
    code = (currency or portal_currency()).upper()
    text = format_currency(number, code, locale=_locale())
    # CLDR glues an ISO code to the digits in English ("PLN48,000.00"); a (non-breaking) space reads better.
    return _CODE_BEFORE_DIGITS.sub("\\1\u00a0", text)


def format_number(value) -> str:
    number = _decimal(value)
    if number is None:
        return "" if value in (None, "") else str(value)
    return format_decimal(number, locale=_locale())


def _local(value) -> datetime.datetime | datetime.date | None:
    if isinstance(value, str):
        from django.utils.dateparse import parse_date, parse_datetime

        try:
            value = parse_datetime(value) or parse_date(value)
        except ValueError:
            return None
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value) if timezone.is_aware(value) else value
    return value if isinstance(value, datetime.date) else None


def format_day(value) -> str:
    """A date (or the day of a moment in the portal's time zone), short: the year only when it is not this one."""
    moment = _local(value)
    if moment is None:
        return "" if value in (None, "") else str(value)
    day = moment.date() if isinstance(moment, datetime.datetime) else moment
    skeleton = "MMMd" if day.year == timezone.localdate().year else "yMMMd"
    return format_skeleton(skeleton, day, locale=_locale())


def format_moment(value) -> str:
    """A date and time in the portal's time zone: "4 maj 2026, 14:05"."""
    moment = _local(value)
    if moment is None:
        return "" if value in (None, "") else str(value)
    if not isinstance(moment, datetime.datetime):
        return format_day(moment)
    locale = _locale()
    return f"{format_date(moment.date(), 'medium', locale=locale)}, {format_time(moment, 'short', locale=locale)}"


def format_phone_number(value) -> str:
    """A stored (E.164) phone number the way people read it; anything else as it is."""
    if not value:
        return ""
    text = str(value)
    return format_phone(text) if text.startswith("+") else text


@register.filter
def money(amount, currency: str | None = None) -> str:
    """``{{ deal.value|money:deal.currency }}``; without a currency, the portal's."""
    return format_money(amount, currency)


@register.filter
def number(value) -> str:
    return format_number(value)


@register.filter
def day(value) -> str:
    return format_day(value)


@register.filter
def moment(value) -> str:
    return format_moment(value)


@register.filter
def phone(value) -> str:
    return format_phone_number(value)
