"""Forms for CRM records, built from the record type and the portal's custom fields, so every page
(list quick-add, record page, kanban dialogs) edits the same fields the same way.

Forms only parse what the browser sends; the rules live in crm.core.services, whose errors are
put back on the form fields by ``add_service_errors``.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from crm.core.custom_fields import definitions
from crm.core.models import CustomField, FieldType
from crm.core.registry import RecordType, record_type, record_types
from crm.core.services import ALWAYS_READ_ONLY
from crm.dictionaries.models import Choice
from identity.members import permissions
from identity.members.models import Membership

CUSTOM_PREFIX = "custom__"
LIST_FIELDS = {"emails", "phones"}
CHOICE_KINDS = {"source": "source", "contact_type": "contact_type", "industry": "industry"}
# Fields kept out of the generic forms: set by workflows (stage moves, conversion) or internal.
NOT_IN_FORMS = {"tags", "custom", "pipeline", "stage", "parent", "depends_on", "participants", "observers",
                "contacts", "status"}


class LookupWidget(forms.Widget):
    """A search box that finds a record by name (there may be 100 000 companies: no <select>)."""

    def __init__(self, slug: str, attrs=None) -> None:
        super().__init__(attrs)
        self.slug = slug

    def format_value(self, value):
        return getattr(value, "pk", value)

    def render(self, name, value, attrs=None, renderer=None):
        value = self.format_value(value)
        label = ""
        if value not in (None, ""):
            rt = next((rt for rt in record_types() if rt.url_slug == self.slug), None)
            found = rt.model.objects.filter(pk=value).first() if rt and str(value).isdigit() else None
            label = str(rt.title(found)) if found else ""
        input_id = (attrs or {}).get("id", f"id_{name}")
        return format_html(
            '<span class="lookup" data-lookup="/crm/lookup/{}/">'
            '<input type="hidden" name="{}" value="{}">'
            '<input type="search" id="{}" value="{}" autocomplete="off" placeholder="{}" data-lookup-input>'
            '<span class="lookup-results" hidden></span></span>',
            self.slug, name, value if value not in (None, "") else "", input_id, label, _("Type to search…"))

    def value_from_datadict(self, data, files, name):
        return data.get(name) or None


class ListOfValuesField(forms.CharField):
    """E-mail addresses or phone numbers, one per line or separated by commas."""

    widget = forms.Textarea(attrs={"rows": 2})

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("help_text", _("One per line."))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(item.get("value", "") if isinstance(item, dict) else str(item) for item in value)
        return value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()]


def _members():
    return Membership.objects.filter(is_active=True).select_related("user").order_by("user__full_name")


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, member):
        return member.user.full_name or member.user.email


def _model_formfield(rt: RecordType, field: models.Field) -> forms.Field | None:
    label = capfirst(field.verbose_name)
    if field.name in LIST_FIELDS:
        return ListOfValuesField(label=label, required=False)
    if field.is_relation:
        related = field.related_model
        if related is Membership:
            return MemberChoiceField(queryset=_members(), label=label, required=False)
        if related is Choice:
            kind = CHOICE_KINDS.get(field.name)
            return forms.ModelChoiceField(queryset=Choice.objects.filter(kind=kind, is_active=True),
                                          label=label, required=False)
        target = next((other for other in record_types() if other.model is related), None)
        if target is None:
            return None
        return forms.Field(label=label, required=False, widget=LookupWidget(target.url_slug))
    formfield = field.formfield()
    if formfield is None:
        return None
    # Required-ness and lengths are the services' business: they normalise first ("526-000-12-46"
    # is a valid NIP of 10 digits) and name the field in the user's language.
    formfield.required = False
    if isinstance(formfield, forms.CharField):
        formfield.max_length = None
        formfield.validators = [v for v in formfield.validators if not isinstance(v, MaxLengthValidator)]
        formfield.widget.attrs.pop("maxlength", None)
    if rt.code == "lead" and field.name == "status":
        # A lead becomes converted by converting it (sales flow), never by picking the status.
        formfield.choices = [choice for choice in formfield.choices if choice[0] != "converted"]
    if isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField):
        formfield.widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    elif isinstance(field, models.DateTimeField):
        formfield.widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    if isinstance(field, models.TextField):
        formfield.widget = forms.Textarea(attrs={"rows": 3})
    return formfield


def _custom_formfield(field: CustomField) -> forms.Field:
    common = {"label": field.label, "required": False, "help_text": field.help_text}
    kind = field.field_type
    if kind == FieldType.LONG_TEXT:
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), **common)
    if kind in (FieldType.NUMBER, FieldType.MONEY):
        return forms.DecimalField(**common)
    if kind == FieldType.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **common)
    if kind == FieldType.DATETIME:
        return forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                              format="%Y-%m-%dT%H:%M"), **common)
    if kind == FieldType.SELECT:
        return forms.ChoiceField(choices=[("", "—")] + [(option, option) for option in field.options], **common)
    if kind == FieldType.MULTISELECT:
        return forms.MultipleChoiceField(choices=[(option, option) for option in field.options],
                                         widget=forms.CheckboxSelectMultiple, **common)
    if kind == FieldType.BOOLEAN:
        return forms.NullBooleanField(**common)
    if kind == FieldType.USER:
        return MemberChoiceField(queryset=_members(), **common)
    if kind == FieldType.URL:
        return forms.URLField(**common)
    if kind == FieldType.EMAIL:
        return forms.EmailField(**common)
    return forms.CharField(**common)


def editable_names(rt: RecordType) -> list[str]:
    return [field.name for field in rt.model._meta.concrete_fields
            if field.editable and field.name not in ALWAYS_READ_ONLY | rt.read_only | NOT_IN_FORMS]


def record_form_class(code: str, *, only: list[str] | None = None, with_custom: bool = True,
                      actor=None) -> type[forms.Form]:
    """A form class for the record type: its editable fields (or ``only`` those), then custom fields.
    With ``actor``, fields their role may not see are left out and those it may not change are shown
    disabled (field rules, identity); the services refuse such changes anyway."""
    rt = record_type(code)
    names = only if only is not None else editable_names(rt)
    hidden = permissions.hidden_fields(actor, code) if actor is not None else set()
    frozen = permissions.read_only_fields(actor, code) if actor is not None else set()
    names = [name for name in names if name not in hidden]
    attrs: dict[str, forms.Field] = {}
    for name in names:
        if name.startswith("custom."):
            continue
        formfield = _model_formfield(rt, rt.model._meta.get_field(name))
        if formfield is not None:
            attrs[name] = formfield
    if with_custom:
        wanted = {name.removeprefix("custom.") for name in names if name.startswith("custom.")}
        for field in definitions(code):
            if (only is None or field.code in wanted) and f"custom.{field.code}" not in hidden:
                attrs[f"{CUSTOM_PREFIX}{field.code}"] = _custom_formfield(field)
    for name, formfield in attrs.items():
        if (f"custom.{name.removeprefix(CUSTOM_PREFIX)}" if name.startswith(CUSTOM_PREFIX) else name) in frozen:
            formfield.disabled = True
    return type(f"{rt.model.__name__}Form", (forms.Form,), attrs)


def initial_for(record: models.Model, form_class: type[forms.Form]) -> dict:
    initial = {}
    for name in form_class.base_fields:
        if name.startswith(CUSTOM_PREFIX):
            initial[name] = (record.custom or {}).get(name.removeprefix(CUSTOM_PREFIX))
        else:
            field = record._meta.get_field(name)
            initial[name] = getattr(record, field.attname if field.is_relation else name)
    return initial


def _plain(value):
    if isinstance(value, models.Model):
        return value.pk
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value.__class__.__name__ == "Decimal":
        return str(value)
    return value


def values_from_form(form: forms.Form, *, changed_only: bool = False) -> dict:
    """What the services take: plain values, custom fields under "custom"."""
    values: dict = {}
    custom: dict = {}
    for name, value in form.cleaned_data.items():
        if changed_only and name not in form.changed_data:
            continue
        if name.startswith(CUSTOM_PREFIX):
            custom[name.removeprefix(CUSTOM_PREFIX)] = _plain(value)
        elif isinstance(value, str) and form.base_fields[name].__class__ is forms.Field:
            values[name] = int(value) if value.isdigit() else None
        else:
            values[name] = _plain(value)
    if custom:
        values["custom"] = custom
    return values


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Put the services' errors on the form fields they name; the rest on the form."""
    messages = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
    for name, texts in messages.items():
        field = f"{CUSTOM_PREFIX}{name.removeprefix('custom.')}" if name.startswith("custom.") else name
        target = field if field in form.fields else None
        for text in texts:
            form.add_error(target, text if target else f"{name}: {text}" if name != "__all__" else text)
