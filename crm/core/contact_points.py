"""E-mail addresses and phone numbers as records keep them: lists of ``{"value", "kind"}`` with the
value normalised (lower-case e-mail, E.164 phone), so duplicates and search find them whatever
way they were typed."""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

KINDS = ("work", "mobile", "home", "other")


def normalise_phone(raw: str, *, region: str = "PL") -> str:
    """E.164 for a number typed any usual way. Excel drops the leading '+' of "+48 600 100 200"
    when a column is numeric, so a bare run of digits that is invalid nationally is tried again
    as an international number."""
    text = (raw or "").strip()
    candidates = [text]
    digits = re.sub(r"\D", "", text)
    if digits and not text.startswith("+"):
        candidates.append("+" + digits.removeprefix("00"))
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise ValidationError(_("“%(value)s” is not a valid phone number.") % {"value": text}, code="invalid_phone")


def format_phone(e164: str) -> str:
    """How a person reads the number: national format at home, international abroad."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    style = (phonenumbers.PhoneNumberFormat.NATIONAL if number.country_code == 48
             else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return phonenumbers.format_number(number, style)


def normalise_email(raw: str) -> str:
    value = (raw or "").strip().lower()
    validate_email(value)
    return value


def _items(raw) -> list[dict]:
    if raw in (None, ""):
        return []
    if isinstance(raw, str | dict):
        raw = [raw]
    if not isinstance(raw, list | tuple):
        raise ValidationError(_("Give a list of values."), code="invalid")
    items = []
    for entry in raw:
        if isinstance(entry, str):
            entry = {"value": entry}
        if not isinstance(entry, dict) or not str(entry.get("value", "")).strip():
            continue
        kind = entry.get("kind") or "work"
        if kind not in KINDS:
            raise ValidationError(_("“%(kind)s” is not a kind of contact point; use one of: %(kinds)s.")
                                  % {"kind": kind, "kinds": ", ".join(KINDS)}, code="invalid_kind")
        items.append({"value": str(entry["value"]), "kind": kind})
    return items


def _unique(items: list[dict]) -> list[dict]:
    seen, unique = set(), []
    for item in items:
        if item["value"] not in seen:
            seen.add(item["value"])
            unique.append(item)
    return unique


def clean_phones(raw, *, region: str = "PL") -> list[dict]:
    return _unique([{**item, "value": normalise_phone(item["value"], region=region)} for item in _items(raw)])


def clean_emails(raw) -> list[dict]:
    return _unique([{**item, "value": normalise_email(item["value"])} for item in _items(raw)])
