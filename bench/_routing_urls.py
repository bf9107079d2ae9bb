"""URLconf of the routing benchmark: one tiny page that does no database query.

Both handlers of bench/routing.py resolve against this module (it is their ROOT_URLCONF),
so the view, the URL resolution and the response are identical on both paths; only the
middleware in front of it differs.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

PATH = "/bench/page/"
BODY = b"<!doctype html><title>Kompas</title><p>bench page</p>\n"

# What the view saw on its last call, so the benchmark can check which stack it went through.
last_seen: dict[str, object] = {}


def bench_page(request: HttpRequest) -> HttpResponse:
    last_seen["tenant"] = getattr(request, "tenant", None)
    return HttpResponse(BODY, content_type="text/html; charset=utf-8")


urlpatterns = [
    path(PATH.strip("/") + "/", bench_page, name="bench-page"),
]
