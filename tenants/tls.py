"""The ``ask`` endpoint of Caddy's on-demand TLS (infra/Caddyfile, docs/decisions/0019).

Before Caddy obtains a certificate for a host name it has not seen, it asks
``GET /internal/tls/ask?domain=<host>`` and goes ahead only on a 2xx answer. Caddy calls it on
localhost, with a Host header that is no portal, so the answer comes before tenant routing
(and before the HTTPS redirect: the call is plain HTTP on loopback). The answer says only
what DNS and a TLS handshake say anyway, so it needs no secret; the Caddyfile still keeps
``/internal/`` off the public listeners.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection
from django.http import HttpRequest, HttpResponse

from tenants.selectors import tls_allowed

ASK_PATH = "/internal/tls/ask"


class TlsAskMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path != ASK_PATH:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
        connection.set_schema_to_public()  # domains live in the public schema; no portal is routed here
        host = request.GET.get("domain", "")
        if tls_allowed(host):
            return HttpResponse("ok\n", content_type="text/plain")
        return HttpResponse("no\n", status=404, content_type="text/plain")
