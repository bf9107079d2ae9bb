"""Settings → CRM for administrators: custom fields per record type and the lists of values
(acquisition sources and their categories, contact types, industries). Every change goes through
crm.core.custom_fields and crm.dictionaries.services."""

from __future__ import annotations

import re
import unicodedata

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from crm.core.custom_fields import COMPATIBLE_TYPES, create_custom_field, delete_custom_field, update_custom_field
from crm.core.models import CustomField, FieldType
from crm.core.registry import record_types
from crm.dictionaries import services as dictionaries
from crm.dictionaries.models import Choice, ChoiceKind
from identity.members.decorators import portal_admin_required

FIELDS_URL = "/settings/crm/fields/"
LISTS_URL = "/settings/crm/lists/"
LIST_TYPES = (FieldType.SELECT, FieldType.MULTISELECT)
POLISH = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")


# --- Custom fields -----------------------------------------------------------------------------------

def code_from_label(label: str) -> str:
    """``Numer umowy ŁĄCZNEJ`` → ``numer_umowy_lacznej``: lower-case ASCII letters, digits and underscores."""
    text = unicodedata.normalize("NFKD", (label or "").translate(POLISH))
    text = text.encode("ascii", "ignore").decode().lower()
    code = re.sub(r"[^a-z0-9]+", "_", text).strip("_")[:60].rstrip("_")
    if code and not code[0].isalpha():
        code = f"f_{code}"[:60]
    return code


def _free_code(entity: str, label: str) -> str:
    base = code_from_label(label)
    if not base:
        return ""
    taken = set(CustomField.objects.filter(entity=entity, code__startswith=base).values_list("code", flat=True))
    code, number = base, 2
    while code in taken:
        suffix = f"_{number}"
        code, number = base[:60 - len(suffix)] + suffix, number + 1
    return code


class FieldForm(forms.Form):
    label = forms.CharField(label=gettext_lazy("Field name"), max_length=120)
    code = forms.CharField(label=gettext_lazy("Code"), max_length=60, required=False,
                           help_text=gettext_lazy("Used in the API, filters and exports. Suggested from the name; "
                                                  "it cannot be changed later."))
    field_type = forms.ChoiceField(label=gettext_lazy("Type"), initial=FieldType.TEXT,
                                   choices=[(value, capfirst(label)) for value, label in FieldType.choices])
    options = forms.CharField(label=gettext_lazy("Options"), required=False,
                              widget=forms.Textarea(attrs={"rows": 4}),
                              help_text=gettext_lazy("One option per line."))
    required = forms.BooleanField(label=gettext_lazy("Required"), required=False,
                                  help_text=gettext_lazy("A record cannot be saved without it."))
    default = forms.CharField(label=gettext_lazy("Default value"), required=False, max_length=500,
                              help_text=gettext_lazy("Filled in on new records. For a list, one of the options; "
                                                     "for yes / no, “yes” or “no”."))
    help_text = forms.CharField(label=gettext_lazy("Hint"), required=False, max_length=300,
                                help_text=gettext_lazy("Shown under the field in forms."))

    def __init__(self, *args, field: CustomField | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if field is not None:
            del self.fields["code"]
            allowed = {field.field_type, *COMPATIBLE_TYPES.get(field.field_type, set())}
            self.fields["field_type"].choices = [(value, capfirst(label)) for value, label in FieldType.choices
                                                 if value in allowed]
            self.fields["field_type"].help_text = gettext_lazy(
                "Only types that read the values already stored the same way.")

    def definition(self) -> dict:
        """The values for create/update_custom_field."""
        data = self.cleaned_data
        options = [line.strip() for line in data["options"].splitlines() if line.strip()]
        default = data["default"].strip() or None
        if default is not None and data["field_type"] == FieldType.MULTISELECT:
            default = [item.strip() for item in re.split(r"[\n,;]", default) if item.strip()]
        return {"label": data["label"], "field_type": data["field_type"],
                "options": options if data["field_type"] in LIST_TYPES else [],
                "required": data["required"], "default": default, "help_text": data["help_text"].strip()}


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for name, messages_ in error.message_dict.items():
        form.add_error(name if name in form.fields else None, messages_)


def _entity_tabs() -> list[tuple[str, object]]:
    return [(rt.code, rt.label_plural) for rt in record_types()]


def _entity_of(request: HttpRequest) -> str:
    codes = [code for code, _label in _entity_tabs()]
    wanted = request.POST.get("entity") or request.GET.get("entity")
    return wanted if wanted in codes else codes[0]


def _fields_page(entity: str) -> str:
    return f"{FIELDS_URL}?entity={entity}"


@portal_admin_required
@require_http_methods(["GET", "POST"])
def custom_fields(request: HttpRequest) -> HttpResponse:
    entity = _entity_of(request)
    form = FieldForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"].strip() or _free_code(entity, form.cleaned_data["label"])
        try:
            field = create_custom_field(entity=entity, code=code, **form.definition())
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("The field “%(label)s” was added. It appears in forms, lists, filters and "
                                        "exports.") % {"label": field.label})
            return redirect(_fields_page(entity))
    fields = list(CustomField.objects.filter(entity=entity).order_by("position", "id"))
    return render(request, "crm/settings_fields.html", {
        "tabs": _entity_tabs(), "entity": entity, "form": form,
        "active": [field for field in fields if field.is_active],
        "inactive": [field for field in fields if not field.is_active],
        "list_types": list(LIST_TYPES),
    }, status=400 if request.method == "POST" else 200)


@portal_admin_required
@require_http_methods(["GET", "POST"])
def custom_field_edit(request: HttpRequest, pk: int) -> HttpResponse:
    field = get_object_or_404(CustomField, pk=pk)
    initial = {"label": field.label, "field_type": field.field_type, "options": "\n".join(field.options),
               "required": field.required, "help_text": field.help_text,
               "default": ", ".join(field.default) if isinstance(field.default, list)
               else ("" if field.default is None else _default_text(field.default))}
    form = FieldForm(request.POST or None, initial=initial, field=field)
    if request.method == "POST" and form.is_valid():
        try:
            update_custom_field(field=field, **form.definition())
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("The field “%(label)s” was saved.") % {"label": field.label})
            return redirect(_fields_page(field.entity))
    return render(request, "crm/settings_field_edit.html", {
        "field": field, "form": form, "list_types": list(LIST_TYPES),
        "entity_label": dict(_entity_tabs()).get(field.entity, field.entity),
    }, status=400 if request.method == "POST" else 200)


def _default_text(value) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


@portal_admin_required
@require_POST
def custom_field_switch(request: HttpRequest, pk: int) -> HttpResponse:
    """Switch a field off (its values stay in the records) or on again."""
    field = get_object_or_404(CustomField, pk=pk)
    if request.POST.get("active") == "1":
        update_custom_field(field=field, is_active=True)
        messages.success(request, _("The field “%(label)s” is on again, with the values it had.")
                         % {"label": field.label})
    else:
        delete_custom_field(field=field)
        messages.success(request, _("The field “%(label)s” is switched off. Its values stay in the records and "
                                    "come back when you switch it on.") % {"label": field.label})
    return redirect(_fields_page(field.entity))


def _reorder_fields(entity: str, ids: list[int]) -> None:
    fields = {field.pk: field for field in CustomField.objects.filter(entity=entity, is_active=True)}
    ordered = [fields[pk] for pk in ids if pk in fields]
    ordered += [field for pk, field in sorted(fields.items(), key=lambda item: (item[1].position, item[0]))
                if field not in ordered]
    with transaction.atomic():
        for position, field in enumerate(ordered, start=1):
            if field.position != position:
                update_custom_field(field=field, position=position)


def _moved(ids: list[int], pk: int, direction: str) -> list[int]:
    index = ids.index(pk)
    target = index - 1 if direction == "up" else index + 1
    if 0 <= target < len(ids):
        ids[index], ids[target] = ids[target], ids[index]
    return ids


def _ids(values: list[str]) -> list[int]:
    return [int(value) for value in values if str(value).isdigit()]


@portal_admin_required
@require_POST
def custom_field_move(request: HttpRequest, pk: int) -> HttpResponse:
    field = get_object_or_404(CustomField, pk=pk, is_active=True)
    ids = list(CustomField.objects.filter(entity=field.entity, is_active=True).order_by("position", "id")
               .values_list("pk", flat=True))
    _reorder_fields(field.entity, _moved(ids, field.pk, request.POST.get("direction", "")))
    return redirect(_fields_page(field.entity))


@portal_admin_required
@require_POST
def custom_field_order(request: HttpRequest) -> HttpResponse:
    """The order after dragging rows (SortableJS): ``ids`` in their new order."""
    entity = _entity_of(request)
    _reorder_fields(entity, _ids(request.POST.getlist("ids")))
    if request.htmx:
        return HttpResponse(status=204)
    return redirect(_fields_page(entity))


# --- Lists of values ---------------------------------------------------------------------------------

LIST_TABS = [
    (ChoiceKind.SOURCE, gettext_lazy("Acquisition sources")),
    (ChoiceKind.SOURCE_CATEGORY, gettext_lazy("Source categories")),
    (ChoiceKind.CONTACT_TYPE, gettext_lazy("Contact types")),
    (ChoiceKind.INDUSTRY, gettext_lazy("Industries")),
]
LIST_HINTS = {
    ChoiceKind.SOURCE: gettext_lazy("Where leads, contacts, companies and deals come from; grouped in categories "
                                    "for reports."),
    ChoiceKind.SOURCE_CATEGORY: gettext_lazy("Groups of acquisition sources, e.g. internet marketing or referrals."),
    ChoiceKind.CONTACT_TYPE: gettext_lazy("How a contact prefers to be reached."),
    ChoiceKind.INDUSTRY: gettext_lazy("The industries of your customers' companies."),
}


def _kind_of(request: HttpRequest) -> str:
    wanted = request.POST.get("kind") or request.GET.get("kind")
    return wanted if wanted in ChoiceKind.values else ChoiceKind.SOURCE


def _list_page(kind: str) -> str:
    return f"{LISTS_URL}?kind={kind}"


class ChoiceForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Value"), max_length=120)
    category = forms.TypedChoiceField(label=gettext_lazy("Category"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, kind: str, categories=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if kind == ChoiceKind.SOURCE:
            self.fields["category"].choices = [("", "—")] + [(category.pk, category.name) for category in categories]
        else:
            del self.fields["category"]


def _render_lists(request: HttpRequest, kind: str, *, form=None, edit_form=None, editing=None, status=200):
    values = list(Choice.objects.filter(kind=kind).select_related("category").order_by("position", "name", "id"))
    categories = _categories() if kind == ChoiceKind.SOURCE else []
    if editing is None and request.GET.get("edit", "").isdigit():
        editing = next((value for value in values if value.pk == int(request.GET["edit"])), None)
    if editing is not None and edit_form is None:
        edit_form = ChoiceForm(kind=kind, categories=categories, initial={
            "name": editing.name, "category": editing.category_id}, prefix="edit")
    return render(request, "crm/settings_lists.html", {
        "tabs": LIST_TABS, "kind": kind, "hint": LIST_HINTS[kind], "values": values,
        "form": form or ChoiceForm(kind=kind, categories=categories),
        "editing": editing, "edit_form": edit_form, "with_category": kind == ChoiceKind.SOURCE,
    }, status=status)


def _categories() -> list[Choice]:
    return list(Choice.objects.filter(kind=ChoiceKind.SOURCE_CATEGORY).order_by("position", "name"))


@portal_admin_required
@require_http_methods(["GET", "POST"])
def lists(request: HttpRequest) -> HttpResponse:
    kind = _kind_of(request)
    if request.method != "POST":
        return _render_lists(request, kind)
    form = ChoiceForm(request.POST, kind=kind, categories=_categories())
    if form.is_valid():
        try:
            choice = dictionaries.create_choice(kind=kind, name=form.cleaned_data["name"],
                                                category=form.cleaned_data.get("category"))
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("“%(name)s” was added.") % {"name": choice.name})
            return redirect(_list_page(kind))
    return _render_lists(request, kind, form=form, status=400)


@portal_admin_required
@require_POST
def list_value(request: HttpRequest, pk: int) -> HttpResponse:
    """Rename a value (and, for a source, change its category)."""
    choice = get_object_or_404(Choice, pk=pk)
    form = ChoiceForm(request.POST, kind=choice.kind, categories=_categories(), prefix="edit")
    if form.is_valid():
        old = choice.name
        try:
            values = {"name": form.cleaned_data["name"]}
            if choice.kind == ChoiceKind.SOURCE:
                values["category"] = form.cleaned_data.get("category")
            dictionaries.update_choice(choice=choice, **values)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            if old != choice.name:
                messages.success(request, _("“%(old)s” is now “%(new)s”. Records using it show the new name.")
                                 % {"old": old, "new": choice.name})
            else:
                messages.success(request, _("“%(name)s” was saved.") % {"name": choice.name})
            return redirect(_list_page(choice.kind))
    choice.refresh_from_db()
    return _render_lists(request, choice.kind, edit_form=form, editing=choice, status=400)


@portal_admin_required
@require_http_methods(["GET", "POST"])
def list_value_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete a value; when records use it, they move to a replacement the administrator chooses."""
    choice = get_object_or_404(Choice, pk=pk)
    others = list(Choice.objects.filter(kind=choice.kind).exclude(pk=choice.pk).order_by("position", "name"))
    in_use = dictionaries.usage_of(choice)
    error = None
    if request.method == "POST":
        replacement = None
        if request.POST.get("replacement"):
            replacement = next((other for other in others if str(other.pk) == request.POST["replacement"]), None)
            if replacement is None:
                raise Http404
        try:
            moved = dictionaries.delete_choice(choice=choice, replacement=replacement, actor=request.admin_member)
        except ValidationError as refused:
            error = " ".join(refused.message_dict.get("replacement", refused.messages)
                             if hasattr(refused, "error_dict") else refused.messages)
        else:
            if moved:
                messages.success(request, _("“%(name)s” was deleted; %(count)d records now use “%(other)s”.")
                                 % {"name": choice.name, "count": moved, "other": replacement.name})
            else:
                messages.success(request, _("“%(name)s” was deleted.") % {"name": choice.name})
            return redirect(_list_page(choice.kind))
    in_dialog = bool(request.htmx) and request.method == "GET"
    template = "crm/settings_list_delete_dialog.html" if in_dialog else "crm/settings_list_delete.html"
    return render(request, template, {"choice": choice, "others": others, "in_use": in_use, "error": error,
                                      "kind_label": dict(LIST_TABS)[choice.kind], "in_dialog": in_dialog},
                  status=400 if error else 200)


@portal_admin_required
@require_POST
def list_value_move(request: HttpRequest, pk: int) -> HttpResponse:
    choice = get_object_or_404(Choice, pk=pk)
    ids = list(Choice.objects.filter(kind=choice.kind).order_by("position", "name", "id").values_list("pk", flat=True))
    dictionaries.reorder_choices(kind=choice.kind, ids=_moved(ids, choice.pk, request.POST.get("direction", "")))
    return redirect(_list_page(choice.kind))


@portal_admin_required
@require_POST
def list_order(request: HttpRequest) -> HttpResponse:
    """The order after dragging rows (SortableJS): ``ids`` in their new order."""
    kind = _kind_of(request)
    wanted = _ids(request.POST.getlist("ids"))
    current = Choice.objects.filter(kind=kind).order_by("position", "name", "id").values_list("pk", flat=True)
    rest = [pk for pk in current if pk not in wanted]
    dictionaries.reorder_choices(kind=kind, ids=wanted + rest)
    if request.htmx:
        return HttpResponse(status=204)
    return redirect(_list_page(kind))
