"""The full export of a portal: a ZIP with one CSV per CRM entity, offered before a cancelled
portal is deleted (docs/decisions/0020-portal-lifecycle.md) and to administrators at any time.

Every record type of the registry, with every built-in and custom field (crm.core.export, without
the per-role hiding: only administrators ask for it), plus the tables that hang off records —
activities, pipelines and stages, product lines, history — with their raw columns. CSV as the list
export writes it: UTF-8 with a BOM and semicolons, so Polish Excel opens it with its letters intact.

The file is written to default_storage under the portal's own prefix and served only on the
portal's host to its administrators (kompas.portal.lifecycle_views).
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
import secrets
import tempfile
import zipfile
import zoneinfo
from dataclasses import dataclass

from django.apps import apps
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, models
from django.utils import timezone, translation

from crm.core import export
from crm.core.registry import record_types

KEEP = 3  # older exports of the portal are removed when a new one is written
NAME_RE = re.compile(r"^kompas-export-\d{8}-\d{6}-[0-9a-f]{8}\.zip$")
# Tables that belong to records but are not record types themselves: (app label, model, file name).
RELATED_TABLES = (
    ("crm_activities", "Activity", "activities"),
    ("crm_deals", "Pipeline", "pipelines"),
    ("crm_deals", "Stage", "stages"),
    ("crm_products", "DealProduct", "deal_products"),
    ("crm_quotes", "QuoteLine", "quote_lines"),
    ("crm_invoices", "InvoiceLine", "invoice_lines"),
    ("crm_tasks", "TaskLink", "task_links"),
    ("crm_core", "CustomField", "custom_fields"),
    ("crm_dictionaries", "Choice", "lists"),
    ("crm_core", "ChangeEntry", "history"),
)


@dataclass(frozen=True)
class ExportFile:
    name: str
    size: int
    created_at: datetime.datetime


def exports_prefix(schema_name: str | None = None) -> str:
    return f"portals/{schema_name or connection.schema_name}/exports/"


def write_full_export() -> str:
    """Write the current portal's export to file storage and return its file name (not the path)."""
    tenant = connection.tenant
    name = f"kompas-export-{timezone.now():%Y%m%d-%H%M%S}-{secrets.token_hex(4)}.zip"
    with tempfile.TemporaryFile() as spool:
        with (translation.override(tenant.language or "pl"), timezone.override(_zone(tenant)),
              zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive):
            for record_type in record_types():
                queryset = _with_relations(record_type.model.objects.alive().order_by("pk"))
                _write_csv(archive, f"{record_type.url_slug}.csv", export.rows(record_type.code, queryset))
            for app_label, model_name, file_name in RELATED_TABLES:
                model = _model(app_label, model_name)
                if model is not None:
                    _write_csv(archive, f"{file_name}.csv", _raw_rows(model))
        spool.seek(0)
        default_storage.save(exports_prefix() + name, File(spool, name=name))
    _remove_old_exports()
    return name


def exports() -> list[ExportFile]:
    """The current portal's exports, newest first."""
    prefix = exports_prefix()
    try:
        _folders, names = default_storage.listdir(prefix)
    except FileNotFoundError:
        return []
    found = [ExportFile(name, default_storage.size(prefix + name), default_storage.get_created_time(prefix + name))
             for name in names if NAME_RE.match(name)]
    return sorted(found, key=lambda item: item.name, reverse=True)


def export_path(name: str) -> str | None:
    """The storage path of one of the current portal's exports, or None for any other name."""
    if not NAME_RE.match(name or ""):
        return None
    path = exports_prefix() + name
    return path if default_storage.exists(path) else None


def _remove_old_exports() -> None:
    for old in exports()[KEEP:]:
        default_storage.delete(exports_prefix() + old.name)


def _zone(tenant) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(tenant.time_zone or "Europe/Warsaw")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("Europe/Warsaw")


def _model(app_label: str, model_name: str) -> type[models.Model] | None:
    try:
        return apps.get_model(app_label, model_name)
    except LookupError:
        return None


def _with_relations(queryset: models.QuerySet) -> models.QuerySet:
    """Every foreign key in the same query (the export writes their names, not their ids)."""
    related = []
    for field in queryset.model._meta.concrete_fields:
        if field.is_relation:
            related.append(field.name)
            if field.related_model._meta.model_name == "membership":
                related.append(f"{field.name}__user")  # a member is shown by the account's name
    return queryset.select_related(*related)


def _write_csv(archive: zipfile.ZipFile, name: str, rows) -> None:
    with archive.open(name, "w") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        writer = csv.writer(text, delimiter=";")
        for row in rows:
            writer.writerow([_text(cell) for cell in row])


def _raw_rows(model: type[models.Model]):
    fields = list(model._meta.concrete_fields)
    yield [field.attname if field.is_relation else field.name for field in fields]
    for record in model.objects.order_by("pk").iterator(chunk_size=export.BATCH):
        yield [getattr(record, field.attname) for field in fields]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def send_ready_mail(*, email: str, link: str) -> None:
    """Tell the administrator who asked that the export can be downloaded, in the portal's language."""
    from django.conf import settings
    from django.core.mail import send_mail
    from django.utils.translation import gettext as _

    tenant = connection.tenant
    with translation.override(tenant.language or "pl"):
        subject = _("The full export of %(portal)s is ready") % {"portal": tenant.name}
        body = _("Hello,\n\nthe full export of the %(portal)s portal is ready: a ZIP file with one CSV file per "
                 "kind of record, with all records and custom fields.\n\nDownload it here (sign in as an "
                 "administrator of the portal):\n%(link)s\n\nThe file is kept until a newer export replaces it "
                 "or the portal is deleted.\n") % {"portal": tenant.name, "link": link}
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])
