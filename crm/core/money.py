"""Currencies: ISO 4217 codes known to py-moneyed; a record without one takes the portal's."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.translation import gettext as _
from moneyed import list_all_currencies

_CODES = frozenset(currency.code for currency in list_all_currencies())


def portal_currency() -> str:
    return getattr(connection.tenant, "currency", "") or "PLN"


def clean_currency(value: str | None, *, field: str = "currency") -> str:
    code = (value or "").strip().upper() or portal_currency()
    if code not in _CODES:
        raise ValidationError({field: [_("“%(code)s” is not a currency code such as PLN or EUR.") % {"code": code}]})
    return code
