"""Rules for people and companies; writes go through crm.core.services with these hooks."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum import exceptions as stdnum_errors
from stdnum.pl import nip as nip_number
from stdnum.pl import regon as regon_number

from crm.core.contact_points import clean_emails, clean_phones
from crm.dictionaries.services import check_choice


def _errors_by_field(checks: dict) -> dict:
    cleaned, errors = {}, {}
    for name, check in checks.items():
        try:
            cleaned[name] = check()
        except ValidationError as error:
            errors[name] = error.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


def clean_contact_points(values: dict) -> dict:
    checks = {}
    if "emails" in values:
        checks["emails"] = lambda: clean_emails(values["emails"])
    if "phones" in values:
        checks["phones"] = lambda: clean_phones(values["phones"])
    return values | _errors_by_field(checks)


def clean_nip(value: str) -> str:
    if not value:
        return ""
    try:
        return nip_number.validate(value)
    except stdnum_errors.ValidationError:
        raise ValidationError(_("“%(value)s” is not a valid NIP: it must be 10 digits with a correct check digit.")
                              % {"value": value}) from None


def clean_regon(value: str) -> str:
    if not value:
        return ""
    try:
        return regon_number.validate(value)
    except stdnum_errors.ValidationError:
        raise ValidationError(_("“%(value)s” is not a valid REGON: it must be 9 or 14 digits with a correct "
                                "check digit.") % {"value": value}) from None


def prepare_company(values: dict, record, actor) -> dict:
    values = clean_contact_points(values)
    checks = {}
    if "nip" in values:
        checks["nip"] = lambda: clean_nip(values["nip"])
    if "regon" in values:
        checks["regon"] = lambda: clean_regon(values["regon"])
    for name, kind in (("source", "source"), ("industry", "industry")):
        if values.get(name) is not None:
            checks[name] = (lambda name=name, kind=kind: check_choice(values[name], kind))
    if "name" in values or record is None:
        values["name"] = (values.get("name") or "").strip()
    return values | _errors_by_field(checks)


def prepare_contact(values: dict, record, actor) -> dict:
    values = clean_contact_points(values)
    checks = {}
    for name, kind in (("source", "source"), ("contact_type", "contact_type")):
        if values.get(name) is not None:
            checks[name] = (lambda name=name, kind=kind: check_choice(values[name], kind))
    values = values | _errors_by_field(checks)
    first = values.get("first_name", record.first_name if record else "")
    last = values.get("last_name", record.last_name if record else "")
    if not (first or "").strip() and not (last or "").strip():
        raise ValidationError({"last_name": [_("Give at least a first name or a last name.")]})
    return values
