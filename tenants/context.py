"""The tenant of the request or job at hand, carried into log lines and Sentry events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sentry_sdk
import structlog
from django.http import HttpRequest, HttpResponse


def bind_tenant(schema_name: str, **extra: str) -> None:
    structlog.contextvars.bind_contextvars(tenant=schema_name, **extra)
    sentry_sdk.get_isolation_scope().set_tag("tenant", schema_name)


def unbind_tenant() -> None:
    structlog.contextvars.unbind_contextvars("tenant", "host", "job")
    sentry_sdk.get_isolation_scope().remove_tag("tenant")


@contextmanager
def tenant_bound(schema_name: str, **extra: str) -> Iterator[None]:
    bind_tenant(schema_name, **extra)
    try:
        yield
    finally:
        unbind_tenant()


class RequestContextMiddleware:
    """Carries the routed tenant into every log line and Sentry event of the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        with tenant_bound(getattr(tenant, "schema_name", "public"), host=request.get_host()):
            return self.get_response(request)


class PortalTimeZoneMiddleware:
    """Dates on a portal's pages are shown in the portal's time zone (Europe/Warsaw by default)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        import zoneinfo

        from django.utils import timezone

        tenant = getattr(request, "tenant", None)
        if tenant is None or tenant.schema_name == "public" or not tenant.time_zone:
            return self.get_response(request)
        try:
            timezone.activate(zoneinfo.ZoneInfo(tenant.time_zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return self.get_response(request)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
