"""Pages: the duplicates finder per record type, the merge wizard, and the warning on the new-record
page (an htmx fragment asked for while the form is filled in)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.core import selectors as core_selectors
from crm.core.contact_points import format_phone
from crm.core.custom_fields import definitions
from crm.core.record_views import _type_or_404, record_path, record_view
from crm.core.registry import RecordType
from crm.duplicates import selectors, services
from identity.members import permissions

PER_PAGE = 20


def _supported(slug: str) -> RecordType:
    rt = _type_or_404(slug)
    if rt.code not in selectors.SUPPORTED:
        raise Http404
    return rt


def _page_number(request: HttpRequest) -> int:
    try:
        return max(int(request.GET.get("page", 1)), 1)
    except ValueError:
        return 1


@record_view
def finder(request: HttpRequest, slug: str) -> HttpResponse:
    rt = _supported(slug)
    groupings = selectors.GROUPINGS[rt.code]
    by = request.GET.get("by") if request.GET.get("by") in groupings else groupings[0]
    page = _page_number(request)
    groups, has_next = selectors.duplicate_groups(request.member, rt.code, by, page=page, per_page=PER_PAGE)
    for group in groups:
        group.label = format_phone(group.value) if by == "phone" else group.value.split(":", 1)[-1]
        group.rows = [{"record": record, "title": rt.title(record), "subtitle": rt.subtitle(record),
                       "url": f"/crm/{rt.url_slug}/{record.pk}/"} for record in group.records]
    tabs = [{"key": key, "label": selectors.GROUPING_LABELS[key], "current": key == by} for key in groupings]
    return render(request, "duplicates/finder.html", {
        "rt": rt, "by": by, "tabs": tabs, "groups": groups, "page": page, "has_next": has_next,
        "list_url": f"/crm/{rt.url_slug}/"})


def _display(rt: RecordType, record, name: str) -> str:
    if name.startswith("custom."):
        value = (record.custom or {}).get(name.removeprefix("custom."))
        if isinstance(value, list):
            return ", ".join(str(item) for item in value)
        return "" if value in (None, "") else str(value)
    field = rt.model._meta.get_field(name)
    if field.many_to_many:
        return ", ".join(sorted(str(item) for item in getattr(record, name).all()))
    if field.is_relation:
        return str(getattr(record, name) or "") if getattr(record, field.attname) else ""
    if field.choices:
        return str(getattr(record, f"get_{name}_display")())
    value = getattr(record, name)
    if name == "phones":
        return ", ".join(format_phone(item.get("value", "")) for item in value or [])
    if isinstance(value, list):
        return ", ".join(str(item.get("value", "") if isinstance(item, dict) else item) for item in value)
    if value is None:
        return ""
    return str(value)


def _wizard_rows(rt: RecordType, records: list) -> list[dict]:
    """One row per field: each record's value shown, a choice where they differ."""
    fields = services.mergeable_fields(rt)
    # What the list shows first (names, e-mails, phones), then the rest in the model's order.
    fields.sort(key=lambda field: rt.default_columns.index(field.name) if field.name in rt.default_columns
                else len(rt.default_columns))
    names = [(field.name, field.verbose_name) for field in fields]
    names += [(f"custom.{field.code}", field.label) for field in definitions(rt.code)]
    rows = []
    for name, label in names:
        cells = [{"id": record.pk, "text": _display(rt, record, name)} for record in records]
        texts = {cell["text"] for cell in cells}
        if texts == {""}:
            continue
        combine = services.combinable(rt, name) and len(texts) > 1
        first_filled = next((cell["id"] for cell in cells if cell["text"]), records[0].pk)
        rows.append({"name": name, "label": label, "cells": cells, "same": len(texts) == 1, "combine": combine,
                     "default": services.COMBINE if combine else first_filled})
    return rows


def _ids(raw: str) -> list[int]:
    ids = []
    for part in (raw or "").split(","):
        if part.strip().isdigit() and int(part) not in ids:
            ids.append(int(part))
    return ids


@record_view
def merge(request: HttpRequest, slug: str) -> HttpResponse:
    rt = _supported(slug)
    ids = _ids(request.POST.get("ids") if request.method == "POST" else request.GET.get("ids"))
    if len(ids) < 2 or len(ids) > services.MAX_MERGED:
        raise Http404
    # 404 for anything the member may not read (another portal's ids look like missing ones).
    records = [core_selectors.record_for(request.member, rt.code, pk) for pk in ids]
    error = None
    if request.method == "POST":
        keep = int(request.POST["keep"]) if request.POST.get("keep", "").isdigit() else ids[0]
        if keep not in ids:
            raise Http404
        choices = {key.removeprefix("pick:"): value for key, value in request.POST.items() if key.startswith("pick:")}
        try:
            kept = services.merge_records(actor=request.member, code=rt.code, keep=keep,
                                          others=[pk for pk in ids if pk != keep], choices=choices)
        except ValidationError as problem:
            error = " ".join(problem.messages)
        else:
            messages.success(request, _("Merged. The other records are in the recycle bin."))
            return redirect(record_path(rt.code, kept.pk))
    else:
        # The oldest record is kept unless the member may only change another one.
        editable = [record for record in records if permissions.can(request.member, rt.code, "edit",
                                                                    owner=record.owner)]
        if not editable:
            raise permissions.NotPermitted(entity_code=rt.code, action="edit")
        keep = editable[0].pk
    return render(request, "duplicates/merge.html", {
        "rt": rt, "records": records, "rows": _wizard_rows(rt, records), "keep": keep, "error": error,
        "ids": ",".join(str(pk) for pk in ids), "list_url": f"/crm/{rt.url_slug}/",
        "finder_url": f"/crm/duplicates/{rt.url_slug}/",
        "columns": [{"record": record, "title": rt.title(record), "subtitle": rt.subtitle(record),
                     "url": f"/crm/{rt.url_slug}/{record.pk}/"} for record in records]}, status=400 if error else 200)


@require_POST
@record_view
def check(request: HttpRequest, slug: str) -> HttpResponse:
    """The warning on the new-record page: existing records the typed values may duplicate."""
    rt = _supported(slug)
    values = {name: request.POST.get(name, "") for name in
              ("first_name", "last_name", "name", "title", "nip", "emails", "phones", "company")}
    exclude = request.POST.get("exclude_pk")
    matches = selectors.possible_duplicates(rt.code, values, principal=request.member,
                                            exclude_pk=int(exclude) if exclude and exclude.isdigit() else None)
    return render(request, "duplicates/warning.html", {"rt": rt, "matches": matches})
