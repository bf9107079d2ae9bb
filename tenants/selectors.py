"""Reads of portals and their host names."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from tenants.models import Domain, Tenant
from tenants.routing import tenant_for_host

__all__ = ["portal_url", "portals", "tenant_for_host"]


def portals() -> QuerySet[Tenant]:
    """Every customer portal, without the public (platform) tenant."""
    return Tenant.objects.exclude(schema_name="public").order_by("name")


def primary_host(tenant: Tenant) -> str:
    domain = Domain.objects.filter(tenant=tenant, is_primary=True).values_list("domain", flat=True).first()
    return domain or f"{tenant.slug}.{settings.BASE_DOMAIN}"


def portal_url(tenant: Tenant, *, port: int | None = None, scheme: str | None = None) -> str:
    scheme = scheme or ("https" if settings.USE_TLS else "http")
    suffix = f":{port}" if port and port not in (80, 443) else ""
    return f"{scheme}://{primary_host(tenant)}{suffix}/"


def portal_address(slug: str, *, scheme: str, port: str | int | None = None, path: str = "/") -> str:
    """``scheme://<slug>.<BASE_DOMAIN>[:port]<path>``; the port is left out when it is the default."""
    suffix = f":{port}" if port and str(port) not in ("80", "443") else ""
    return f"{scheme}://{slug}.{settings.BASE_DOMAIN}{suffix}{path}"
