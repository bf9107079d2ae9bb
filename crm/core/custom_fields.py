"""Values of a portal's custom fields: checked against their definitions and stored in the record's
``custom`` JSON as plain JSON types (docs/decisions/0012)."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from crm.core.contact_points import normalise_email, normalise_phone
from crm.core.models import CustomField, FieldType


def definitions(entity: str) -> list[CustomField]:
    return list(CustomField.objects.filter(entity=entity, is_active=True))


def _empty(value) -> bool:
    return value is None or value == "" or value == []


def _number(value):
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError(_("Enter a number.")) from None
    if not number.is_finite():
        raise ValidationError(_("Enter a number."))
    return float(number) if number != number.to_integral_value() else int(number)


def _money(value):
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise ValidationError(_("Enter an amount, e.g. 1250.50.")) from None
    return str(amount)


def _date(value):
    if isinstance(value, datetime.date):
        return value.isoformat()
    parsed = parse_date(str(value)) if value else None
    if parsed is None:
        raise ValidationError(_("Enter a date as YYYY-MM-DD."))
    return parsed.isoformat()


def _datetime(value):
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    parsed = parse_datetime(str(value)) if value else None
    if parsed is None:
        raise ValidationError(_("Enter a date and time, e.g. 2026-05-04T09:30:00+02:00."))
    return parsed.isoformat()


def _boolean(value):
    if isinstance(value, bool):
        return value
    if str(value).lower() in {"true", "1", "yes", "tak"}:
        return True
    if str(value).lower() in {"false", "0", "no", "nie"}:
        return False
    raise ValidationError(_("Choose yes or no."))


def _one_of(field: CustomField):
    def clean(value):
        if str(value) not in field.options:
            raise ValidationError(_("“%(value)s” is not one of the options: %(options)s.")
                                  % {"value": value, "options": ", ".join(field.options)})
        return str(value)
    return clean


def _many_of(field: CustomField):
    def clean(value):
        values = value if isinstance(value, list) else [value]
        return [_one_of(field)(item) for item in values]
    return clean


def _user(value):
    from identity.members.selectors import active_member_ids

    try:
        member_id = int(value)
    except (TypeError, ValueError):
        raise ValidationError(_("Choose a person of this portal.")) from None
    if member_id not in active_member_ids():
        raise ValidationError(_("Choose a person of this portal."))
    return member_id


def _url(value):
    URLValidator()(str(value))
    return str(value)


def _cleaner(field: CustomField):
    return {
        FieldType.TEXT: lambda value: str(value)[:500],
        FieldType.LONG_TEXT: str,
        FieldType.NUMBER: _number,
        FieldType.MONEY: _money,
        FieldType.DATE: _date,
        FieldType.DATETIME: _datetime,
        FieldType.SELECT: _one_of(field),
        FieldType.MULTISELECT: _many_of(field),
        FieldType.BOOLEAN: _boolean,
        FieldType.USER: _user,
        FieldType.URL: _url,
        FieldType.EMAIL: normalise_email,
        FieldType.PHONE: normalise_phone,
    }[field.field_type]


def clean_custom_values(entity: str, incoming: dict | None, *, existing: dict | None = None) -> dict:
    """The record's new ``custom`` JSON; errors are keyed ``custom.<code>`` and name the field."""
    existing = dict(existing or {})
    incoming = incoming or {}
    if not isinstance(incoming, dict):
        raise ValidationError({"custom": [_("Custom fields are given as an object of code → value.")]})
    fields = {field.code: field for field in definitions(entity)}
    errors: dict[str, list[str]] = {}
    for code in incoming:
        if code not in fields:
            errors[f"custom.{code}"] = [_("There is no custom field with the code “%(code)s”.") % {"code": code}]
    result = dict(existing)
    for code, field in fields.items():
        if code in incoming:
            value = incoming[code]
        elif code in existing:
            continue
        elif field.default is not None:
            value = field.default
        else:
            value = None
        try:
            result[code] = None if _empty(value) else _cleaner(field)(value)
        except ValidationError as error:
            errors[f"custom.{code}"] = [f"{field.label}: {message}" for message in error.messages]
            continue
        if field.required and _empty(result[code]):
            errors[f"custom.{code}"] = [_("%(field)s is required.") % {"field": field.label}]
    if errors:
        raise ValidationError(errors)
    return {code: value for code, value in result.items() if not _empty(value)}


# --- Definitions (portal settings) ----------------------------------------------------------------

CODE_PATTERN = r"^[a-z][a-z0-9_]{0,59}$"
# A value stored under one type must still mean something under the other.
COMPATIBLE_TYPES = {
    FieldType.TEXT: {FieldType.LONG_TEXT, FieldType.URL, FieldType.EMAIL, FieldType.PHONE},
    FieldType.LONG_TEXT: {FieldType.TEXT},
    FieldType.SELECT: {FieldType.TEXT},
    FieldType.NUMBER: {FieldType.MONEY},
    FieldType.MONEY: {FieldType.NUMBER},
    FieldType.DATE: {FieldType.DATETIME},
}


def _check_definition(field: CustomField) -> None:
    import re

    from crm.core.registry import record_types

    errors: dict[str, list[str]] = {}
    if field.entity not in {rt.code for rt in record_types()}:
        errors["entity"] = [_("Custom fields can be added to: %(types)s.")
                            % {"types": ", ".join(rt.code for rt in record_types())}]
    if not re.match(CODE_PATTERN, field.code or ""):
        errors["code"] = [_("Use lower-case letters, digits and underscores, starting with a letter.")]
    elif CustomField.objects.filter(entity=field.entity, code=field.code).exclude(pk=field.pk).exists():
        errors["code"] = [_("This record type already has a field with the code “%(code)s”.") % {"code": field.code}]
    if not (field.label or "").strip():
        errors["label"] = [_("Give the field a name.")]
    if field.field_type not in FieldType.values:
        errors["field_type"] = [_("Choose one of the field types.")]
    elif field.field_type in (FieldType.SELECT, FieldType.MULTISELECT):
        options = [option.strip() for option in field.options if option.strip()]
        if not options:
            errors["options"] = [_("A list needs at least one option.")]
        elif len(set(options)) != len(options):
            errors["options"] = [_("Each option may appear only once.")]
        field.options = options
    if not errors and field.default is not None:
        try:
            field.default = _cleaner(field)(field.default)
        except ValidationError as error:
            errors["default"] = error.messages
    if errors:
        raise ValidationError(errors)


def create_custom_field(*, entity: str, code: str, label: str, field_type: str, options=(), required=False,
                        default=None, help_text: str = "", position: int | None = None) -> CustomField:
    from django.db.models import Max

    if position is None:
        position = (CustomField.objects.filter(entity=entity).aggregate(Max("position"))["position__max"] or 0) + 1
    field = CustomField(entity=entity, code=(code or "").strip(), label=(label or "").strip(), field_type=field_type,
                        options=list(options or []), required=required, default=default, help_text=help_text,
                        position=position)
    _check_definition(field)
    field.save()
    return field


def update_custom_field(*, field: CustomField, **values) -> CustomField:
    """The code and the record type never change (API clients and filters use them); the type may
    change only to one that reads the stored values the same way."""
    fixed = {"code", "entity"} & set(values)
    if fixed:
        raise ValidationError({name: [_("This cannot be changed once the field exists.")] for name in fixed})
    allowed = {"label", "field_type", "options", "required", "default", "help_text", "position", "is_active"}
    unknown = set(values) - allowed
    if unknown:
        raise ValidationError({name: [_("This field does not exist or cannot be changed.")] for name in unknown})
    new_type = values.get("field_type", field.field_type)
    if new_type != field.field_type and new_type not in COMPATIBLE_TYPES.get(field.field_type, set()):
        raise ValidationError({"field_type": [_("A field of type “%(old)s” cannot become “%(new)s”; add a new field "
                                                "instead.") % {"old": field.get_field_type_display(),
                                                               "new": FieldType(new_type).label}]})
    for name, value in values.items():
        setattr(field, name, value)
    _check_definition(field)
    field.save()
    return field


def delete_custom_field(*, field: CustomField) -> None:
    """Switch the field off: its values stay in the records (and in exports) until it is switched on
    again, so deleting a field by mistake loses nothing."""
    field.is_active = False
    field.save(update_fields=["is_active"])
