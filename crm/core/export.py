"""Taking records out: every built-in and custom field, as CSV or an Excel workbook.

Export is a right of its own (identity: export × scope), so the rows are the records the
person may *export*, not merely read. Lock-in is the top complaint about the incumbents
(DESIGN), so nothing is left out: custom fields — also switched-off ones that still hold values
— tags, owner and timestamps.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Iterator

from django.db import models
from django.utils import timezone

from crm.core.models import CustomField
from crm.core.registry import record_type
from identity.members import permissions

SKIPPED = {"deleted_at", "deleted_by", "search_text", "custom", "board_position"}
BATCH = 2000


def _columns(code: str, hidden: set[str]) -> list[tuple[str, str]]:
    model = record_type(code).model
    columns = [(field.name, str(field.verbose_name)) for field in model._meta.concrete_fields
               if field.name not in SKIPPED]
    columns += [(f"custom.{field.code}", field.label) for field in CustomField.objects.filter(entity=code)]
    return [(name, label) for name, label in columns if name not in hidden]


def _cell(record: models.Model, name: str):
    if name.startswith("custom."):
        value = (record.custom or {}).get(name.removeprefix("custom."))
    else:
        field = record._meta.get_field(name)
        if field.is_relation:
            return str(getattr(record, name)) if getattr(record, field.attname) is not None else ""
        if field.choices:
            return str(getattr(record, f"get_{name}_display")())
        value = getattr(record, name)
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(item.get("value", "")) if isinstance(item, dict) else str(item) for item in value)
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return "1" if value else "0"
    return value


def rows(code: str, queryset: models.QuerySet, *, actor=None) -> Iterator[list]:
    """The header row, then one row per record, fetched in batches so big exports stay small in memory.
    Fields the actor's role may not see are left out."""
    columns = _columns(code, permissions.hidden_fields(actor, code) if actor is not None else set())
    yield [label for _name, label in columns]
    for record in queryset.iterator(chunk_size=BATCH):
        yield [_cell(record, name) for name, _label in columns]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_chunks(code: str, queryset: models.QuerySet, *, actor=None) -> Iterator[str]:
    """UTF-8 with a byte-order mark so Excel shows Polish letters; semicolons as Polish Excel expects."""
    writer = csv.writer(_Echo(), delimiter=";")
    yield "\ufeff"
    for row in rows(code, queryset, actor=actor):
        yield writer.writerow([str(cell) for cell in row])


def xlsx_bytes(code: str, queryset: models.QuerySet, *, actor=None) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(str(record_type(code).label_plural)[:31])
    for row in rows(code, queryset, actor=actor):
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
