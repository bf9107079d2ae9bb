"""Pages of the app shell: the global search (a full page, and the popover under the search box)
and the notifications (a page, and the count on the bell)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import format_html
from django.views.decorators.http import require_GET

from crm.core import search
from crm.core import selectors_dashboard as reads
from crm.core.registry import record_type, record_types

POPOVER_PER_TYPE = 4
PAGE_PER_TYPE = 20


def _grouped(hits: list[search.SearchHit]) -> list[dict]:
    """Hits per record type, the type with the best match first."""
    groups: dict[str, dict] = {}
    for hit in hits:
        group = groups.get(hit.entity)
        if group is None:
            rt = record_type(hit.entity)
            group = groups[hit.entity] = {"code": hit.entity, "label": rt.label_plural, "slug": rt.url_slug,
                                          "hits": []}
        group["hits"].append(hit)
    return list(groups.values())


@login_required
@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    query = " ".join(request.GET.get("q", "").split())[:search.MAX_QUERY]
    too_short = len(query) < search.MIN_QUERY
    popover = bool(request.htmx)
    hits = [] if too_short else search.search_everything(
        request.member, query, limit_per_type=POPOVER_PER_TYPE if popover else PAGE_PER_TYPE)
    rows = [(hit, reads.record_url(hit.entity, hit.id), record_type(hit.entity).label) for hit in hits]
    context = {"query": query, "too_short": too_short, "rows": rows, "min_length": search.MIN_QUERY}
    if popover:
        return render(request, "crm/search_popover.html", context)
    groups = _grouped(hits)
    urls = {(hit.entity, hit.id): url for hit, url, _label in rows}
    for group in groups:
        group["rows"] = [(hit, urls[(hit.entity, hit.id)]) for hit in group["hits"]]
        group["maybe_more"] = len(group["hits"]) >= PAGE_PER_TYPE
    return render(request, "crm/search.html", context | {
        "groups": groups, "searched_types": [rt.label_plural for rt in record_types()]})


@login_required
@require_GET
def notifications_page(request: HttpRequest) -> HttpResponse:
    member = request.member
    found = reads.notifications(member) if member else reads.Notifications([], [], [])
    return render(request, "crm/notifications.html", {"notes": found, "days": reads.NOTIFICATION_DAYS})


@login_required
@require_GET
def notifications_count(request: HttpRequest) -> HttpResponse:
    """The bell's badge (htmx, every minute): ``<span class="count">N</span>``, or nothing."""
    member = request.member
    count = reads.notification_count(member) if member else 0
    body = format_html('<span class="count">{}</span>', count if count < 100 else "99+") if count else ""
    response = HttpResponse(body)
    response["Cache-Control"] = "no-store"
    return response
