"""Request → host → tenant, through a cache so a known host costs no database query.

The ``routing`` cache holds one entry per host name: the pickled Tenant, or a short-lived
"unknown" marker so a scanner hammering random hosts does not reach the database either.
Entries are dropped whenever a Domain or Tenant row changes (signals below), which covers
changes made by django-tenants itself as well as by our services.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.db.models.signals import post_delete, post_save, pre_save
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.template.loader import render_to_string
from django.utils import translation
from django_tenants.middleware.main import TenantMainMiddleware

from tenants.models import Domain, Tenant

UNKNOWN_HOST_TTL = 60
_UNKNOWN = "unknown"


def routing_cache():
    return caches["routing"]


def normalise_host(raw_host: str) -> str:
    """Lower-case host without port, trailing dot or a leading ``www.``."""
    host = raw_host.strip().lower()
    if host.startswith("["):  # IPv6 literal, e.g. [::1]:8000
        host = host.split("]", 1)[0] + "]"
    else:
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    host = host.rstrip(".")
    return host.removeprefix("www.")


def _cache_key(host: str) -> str:
    return f"host:{host}"


def _development_slug(host: str) -> str | None:
    """``<slug>.localhost`` routes by portal address in development, whatever BASE_DOMAIN is."""
    if not settings.DEBUG and settings.BASE_DOMAIN != "localhost":
        return None
    label, _, rest = host.partition(".")
    return label if rest == "localhost" and label else None


def _tenant_from_database(host: str) -> Tenant | None:
    domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    if domain is not None:
        return domain.tenant
    slug = _development_slug(host)
    if slug:
        return Tenant.objects.filter(slug=slug).first()
    return None


def tenant_for_host(raw_host: str) -> Tenant | None:
    """The tenant a host name routes to, or None. Cached; no query for a known host."""
    host = normalise_host(raw_host)
    cache = routing_cache()
    cached = cache.get(_cache_key(host))
    if cached == _UNKNOWN:
        return None
    if cached is not None:
        return cached
    tenant = _tenant_from_database(host)
    if tenant is None:
        cache.set(_cache_key(host), _UNKNOWN, UNKNOWN_HOST_TTL)
    else:
        cache.set(_cache_key(host), tenant)
    return tenant


def forget_hosts(hosts: Iterable[str]) -> None:
    keys = [_cache_key(normalise_host(host)) for host in hosts if host]
    if keys:
        routing_cache().delete_many(keys)


def hosts_of_tenant(tenant: Tenant, *, slug: str | None = None) -> list[str]:
    hosts = list(Domain.objects.filter(tenant_id=tenant.pk).values_list("domain", flat=True))
    for label in {slug, tenant.slug} - {None, ""}:
        hosts += [f"{label}.localhost", f"{label}.{settings.BASE_DOMAIN}"]
    return hosts


def _remember_previous_domain(sender, instance: Domain, **kwargs) -> None:
    if instance.pk:
        instance._previous_domain = (
            Domain.objects.filter(pk=instance.pk).values_list("domain", flat=True).first()
        )


def _forget_domain(sender, instance: Domain, **kwargs) -> None:
    forget_hosts([instance.domain, getattr(instance, "_previous_domain", None)])


def _remember_previous_slug(sender, instance: Tenant, **kwargs) -> None:
    if instance.pk:
        instance._previous_slug = Tenant.objects.filter(pk=instance.pk).values_list("slug", flat=True).first()


def _forget_tenant(sender, instance: Tenant, **kwargs) -> None:
    forget_hosts(hosts_of_tenant(instance, slug=getattr(instance, "_previous_slug", None)))


def connect_cache_invalidation() -> None:
    pre_save.connect(_remember_previous_domain, sender=Domain, dispatch_uid="routing-domain-pre")
    post_save.connect(_forget_domain, sender=Domain, dispatch_uid="routing-domain-save")
    post_delete.connect(_forget_domain, sender=Domain, dispatch_uid="routing-domain-delete")
    pre_save.connect(_remember_previous_slug, sender=Tenant, dispatch_uid="routing-tenant-pre")
    post_save.connect(_forget_tenant, sender=Tenant, dispatch_uid="routing-tenant-save")
    post_delete.connect(_forget_tenant, sender=Tenant, dispatch_uid="routing-tenant-delete")


def unknown_host_response(request: HttpRequest, host: str) -> HttpResponse:
    """A plain 404 page that names no tenant and shows nothing of the public site."""
    language = translation.get_language_from_request(request)
    with translation.override(language):
        body = render_to_string(
            "tenants/unknown_host.html",
            {"host": host, "base_domain": settings.BASE_DOMAIN, "LANGUAGE_CODE": language},
        )
    return HttpResponseNotFound(body)


class TenantRoutingMiddleware(TenantMainMiddleware):
    """django-tenants' middleware with a cached host lookup and our own 404 page."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        connection.set_schema_to_public()
        host = normalise_host(request.get_host())
        tenant = tenant_for_host(host)
        if tenant is None:
            return unknown_host_response(request, host)
        tenant.domain_url = host
        request.tenant = tenant
        connection.set_tenant(tenant)
        self.setup_url_routing(request)
        return None
