"""Every write to portals and their domains.

Creating a portal here runs its migrations (django-tenants' ``auto_create_schema``); the warm
pool that keeps signup under a second belongs to the control-plane work and will call into
this module rather than replace it.
"""

from __future__ import annotations

import re

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from tenants.models import Domain, Tenant, new_schema_name

log = structlog.get_logger(__name__)

# Labels that name parts of the platform itself, or that people would mistake for it.
RESERVED_SLUGS = frozenset({
    "www", "api", "admin", "mail", "smtp", "imap", "pop", "static", "media", "app", "status",
    "public", "help", "support", "docs", "blog", "billing", "staff", "partners", "partner",
    "console", "login", "signup", "auth", "sso", "cdn", "assets", "ns1", "ns2", "localhost",
    "kompas", "test", "dev", "stage", "staging",
})
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")


def validate_slug(slug: str) -> str:
    """Return the portal address in canonical form, or raise naming the reason."""
    value = (slug or "").strip().lower()
    if len(value) < 3:
        raise ValidationError({"slug": _("The portal address must be at least 3 characters long.")})
    if len(value) > 63:
        raise ValidationError({"slug": _("The portal address can be at most 63 characters long.")})
    if not _SLUG_RE.match(value):
        raise ValidationError({"slug": _(
            "The portal address may contain only lower-case letters a–z, digits and hyphens, "
            "and cannot start or end with a hyphen."
        )})
    if value[2:4] == "--":
        raise ValidationError({"slug": _("The portal address cannot have two hyphens in the third and "
                                         "fourth place (that is reserved for international names).")})
    if value in RESERVED_SLUGS:
        raise ValidationError({"slug": _("This portal address is reserved. Please choose another one.")})
    if Tenant.objects.filter(slug__iexact=value).exists():
        raise ValidationError({"slug": _("This portal address is already taken. Please choose another one.")})
    return value


def ensure_public_tenant() -> Tenant:
    """The public tenant serves the landing site on BASE_DOMAIN; idempotent."""
    tenant = Tenant.objects.filter(schema_name="public").first()
    if tenant is None:
        tenant = Tenant(schema_name="public", slug="", name="Kompas", kind=Tenant.Kind.PLATFORM,
                        status=Tenant.Status.ACTIVE)
        tenant.save()
    Domain.objects.get_or_create(domain=settings.BASE_DOMAIN, defaults={"tenant": tenant, "is_primary": True})
    return tenant


def create_tenant(*, name: str, slug: str, kind: str = Tenant.Kind.COMPANY,
                  status: str = Tenant.Status.TRIAL, language: str = "pl") -> Tenant:
    """Create a portal with its schema (migrated) and its primary subdomain.

    Schema DDL in PostgreSQL is transactional, so a failure anywhere rolls back the schema,
    the tenant row and the domain together: no half-created portal is left behind.
    """
    if not (name or "").strip():
        raise ValidationError({"name": _("Please enter the company or portal name.")})
    slug = validate_slug(slug)
    with transaction.atomic():
        tenant = Tenant(schema_name=new_schema_name(), slug=slug, name=name.strip(), kind=kind,
                        status=status, language=language)
        tenant.save(verbosity=0)
        Domain.objects.create(domain=f"{slug}.{settings.BASE_DOMAIN}", tenant=tenant, is_primary=True)
    log.info("tenant.created", schema=tenant.schema_name, slug=slug)
    return tenant


def set_status(*, tenant: Tenant, status: str, reason: str = "") -> Tenant:
    """Move a portal to another lifecycle state; the routing cache learns it at once."""
    if status not in Tenant.Status.values:
        raise ValueError(f"unknown portal status {status!r}")
    if tenant.status == status:
        return tenant
    previous = tenant.status
    tenant.status = status
    tenant.save(update_fields=["status", "updated_at"])
    log.info("tenant.status_changed", schema=tenant.schema_name, previous=previous, status=status, reason=reason)
    return tenant
