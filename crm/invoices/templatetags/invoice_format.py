"""Invoice amounts: always two decimals, grouped for the language (1 234,56 in Polish)."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal
from django import template
from django.utils import translation

register = template.Library()


@register.filter
def number2(value) -> str:
    if value in (None, ""):
        return ""
    locale = (translation.get_language() or "pl").replace("-", "_")
    try:
        return format_decimal(Decimal(str(value)), format="#,##0.00", locale=locale)
    except Exception:  # an unknown locale: plain digits
        return f"{Decimal(str(value)):.2f}"
