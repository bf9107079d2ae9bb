"""Tax numbers on billing details, checked with python-stdnum."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum.eu import vat
from stdnum.pl import nip


def clean_nip(value: str) -> str:
    """A Polish NIP in its 10-digit form; accepts spaces, dashes and a PL prefix."""
    if not value:
        return ""
    if not nip.is_valid(value):
        raise ValidationError(_("This NIP is not valid: check the ten digits (the last one is a checksum)."))
    return nip.compact(value)


def clean_vat_id(value: str) -> str:
    """An EU VAT number with its country prefix, e.g. DE136695976."""
    if not value:
        return ""
    if not vat.is_valid(value):
        raise ValidationError(_("This EU VAT number is not valid: it starts with the country code (e.g. DE) "
                                "followed by the number, and its checksum must match."))
    return vat.compact(value)
