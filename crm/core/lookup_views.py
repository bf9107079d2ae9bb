"""``/crm/lookup/<type>/?q=`` — the suggestions behind a record search box in forms (LookupWidget)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from crm.core import search, selectors
from crm.core.registry import record_type_for_slug

LIMIT = 8


@login_required
def lookup(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        rt = record_type_for_slug(slug)
    except LookupError:
        raise Http404 from None
    query = request.GET.get("q", "").strip()
    records = selectors.records(request.member, rt.code)
    found = search.search_records(records, query)[:LIMIT] if query else records.order_by("-updated_at")[:LIMIT]
    return render(request, "crm/lookup_results.html", {
        "options": [(record.pk, rt.title(record), rt.subtitle(record)) for record in found], "query": query})
