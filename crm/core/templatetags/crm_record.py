"""Display helpers of the record pages: money in the record's currency formatted for the reader's
language ("48 000,00 zł" in Polish), phone numbers as people read them, dates in the portal's zone."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency
from django import template
from django.utils import translation

from crm.core.contact_points import format_phone
from crm.core.money import portal_currency

register = template.Library()

_CODE_GLUED_TO_DIGITS = re.compile(r"^([A-Z]{3})(?=[-\d])")


def money_text(amount, currency: str | None = None) -> str:
    if amount in (None, ""):
        return ""
    try:
        number = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    language = (translation.get_language() or "pl").replace("-", "_")
    try:
        locale = Locale.parse(language)
    except (UnknownLocaleError, ValueError):
        locale = Locale.parse("pl")
    text = format_currency(number, (currency or portal_currency()).upper(), locale=locale)
    # CLDR glues an ISO code to the digits in English ("PLN48,000.00"); a space reads better.
    return _CODE_GLUED_TO_DIGITS.sub("\\1\u00a0", text)


def phone_text(value) -> str:
    value = value.get("value", "") if isinstance(value, dict) else value
    return format_phone(value) if value else ""


@register.filter
def record_money(amount, currency: str | None = None) -> str:
    """``{{ deal.value|record_money:deal.currency }}``"""
    return money_text(amount, currency)


@register.filter
def record_phone(value) -> str:
    return phone_text(value)


@register.filter
def tel_href(value) -> str:
    value = value.get("value", "") if isinstance(value, dict) else str(value or "")
    return "tel:" + re.sub(r"[^\d+]", "", value)
