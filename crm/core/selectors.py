"""Reads of CRM records, always through the permission layer: lists, one record, the recycle bin,
a record's history. Every surface (pages, API, exports, search, kanban) starts here."""

from __future__ import annotations

from django.db import models
from django.http import Http404
from django.utils.translation import gettext as _

from crm.core.models import ChangeEntry
from crm.core.registry import RecordType, record_type
from identity.members import permissions


def _reachable(principal, rt: RecordType, action: str, queryset: models.QuerySet) -> models.QuerySet:
    queryset = permissions.filter_queryset(principal, rt.code, action, queryset)
    if rt.access_q is not None:
        queryset = queryset.filter(rt.access_q(principal))
    return queryset


def records(principal, code: str, *, action: str = "read") -> models.QuerySet:
    """Live records of ``code`` the principal may ``action``, with their usual related rows."""
    rt = record_type(code)
    queryset = rt.model.objects.alive().select_related(*rt.select_related)
    return _reachable(principal, rt, action, queryset)


def recycle_bin(principal, code: str) -> models.QuerySet:
    rt = record_type(code)
    queryset = rt.model.objects.in_recycle_bin().select_related(*rt.select_related, "deleted_by__user")
    return _reachable(principal, rt, "delete", queryset).order_by("-deleted_at", "-id")


def record_for(principal, code: str, pk, *, action: str = "read", include_deleted: bool = False) -> models.Model:
    """One record, or 404 when the principal may not even read it (no hint that it exists);
    NotPermitted when they may read it but not ``action`` it."""
    rt = record_type(code)
    base = rt.model.objects.select_related(*rt.select_related)
    if not include_deleted:
        base = base.alive()
    try:
        record = _reachable(principal, rt, "read", base).get(pk=pk)
    except (rt.model.DoesNotExist, ValueError, TypeError):
        raise Http404(_("No such %(entity)s, or you may not see it.") % {"entity": rt.label}) from None
    if action != "read" and not permissions.can(principal, code, action, owner=record.owner):
        raise permissions.NotPermitted(entity_code=code, action=action)
    return record


def history_of(principal, code: str, pk) -> models.QuerySet:
    record = record_for(principal, code, pk, include_deleted=True)
    return ChangeEntry.objects.filter(entity=code, record_id=record.pk).select_related("actor__user")
