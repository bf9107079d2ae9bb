"""``GET /api/v1/export/<type>/?format=csv|xlsx&filter=<json>&q=…&view=<id>`` — the same filter
language and search as lists, limited to what the caller may export."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.views import APIView

from crm.core import filters, saved_views, search, selectors
from crm.core.registry import record_types
from identity.members import permissions
from identity.members.authentication import principal_of


def _filtered(request: Request, code: str):
    principal = principal_of(request)
    if not permissions.can(principal, code, "export", creating=True):
        raise permissions.NotPermitted(entity_code=code, action="export")
    queryset = selectors.records(principal, code, action="export")
    if request.query_params.get("view"):
        return saved_views.apply_view(saved_views.visible_view(principal, request.query_params["view"]),
                                      queryset, actor=principal)
    raw = request.query_params.get("filter")
    if raw:
        try:
            tree = json.loads(raw)
        except ValueError:
            raise ValidationError({"filter": [_("The filter is not valid JSON.")]}) from None
        queryset = queryset.filter(filters.compile_filter(code, tree, actor=principal))
    ordering = [item for item in request.query_params.get("ordering", "").split(",") if item]
    queryset = queryset.order_by(*filters.compile_ordering(code, ordering, actor=principal))
    if request.query_params.get("q"):
        queryset = search.search_records(queryset, request.query_params["q"])
    return queryset


class ExportView(APIView):
    def perform_content_negotiation(self, request, force=False):
        # ``?format=csv|xlsx`` names the file format; DRF would read it as a renderer name and 404.
        return super().perform_content_negotiation(request, force=True)

    def get(self, request: Request, code: str):
        if code not in {rt.code for rt in record_types()}:
            raise NotFound()
        queryset = _filtered(request, code)
        stamp = timezone.localtime().strftime("%Y-%m-%d")
        if request.query_params.get("format", "csv") == "xlsx":
            from crm.core.export import xlsx_bytes

            response = HttpResponse(xlsx_bytes(code, queryset, actor=principal_of(request)),
                                    content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            response["Content-Disposition"] = f'attachment; filename="{code}-{stamp}.xlsx"'
            return response
        from crm.core.export import csv_chunks

        response = StreamingHttpResponse(csv_chunks(code, queryset, actor=principal_of(request)),
                                         content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{code}-{stamp}.csv"'
        return response
