"""Every write to portals and their domains.

Creating a portal takes a schema from the warm pool, or clones the template, or as the last
resort runs its migrations (tenants.pool.acquire_schema, docs/decisions/0011 and 0023).
"""

from __future__ import annotations

import re
import secrets

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from tenants.models import Domain, Partner, Signup, Tenant
from tenants.signals import client_portal_unlinking

log = structlog.get_logger(__name__)

# Labels that name parts of the platform itself, or that people would mistake for it.
RESERVED_SLUGS = frozenset({
    "www", "api", "admin", "mail", "smtp", "imap", "pop", "static", "media", "app", "status",
    "public", "help", "support", "docs", "blog", "billing", "staff", "partners", "partner",
    "console", "login", "signup", "auth", "sso", "cdn", "assets", "ns1", "ns2", "localhost",
    "kompas", "test", "dev", "stage", "staging",
})
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")


def validate_slug(slug: str, *, signup_email: str | None = None) -> str:
    """Return the portal address in canonical form, or raise naming the reason.

    ``signup_email``: the check is for a self-service signup by this address, so an address
    reserved by someone else's pending signup is taken too (the same person may ask again).
    """
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
    taken = Tenant.objects.filter(slug__iexact=value).exists()
    if not taken and signup_email is not None:
        taken = pending_signups().filter(slug=value).exclude(email__iexact=signup_email.strip()).exists()
    if taken:
        raise ValidationError({"slug": _("This portal address is already taken. Please choose another one.")})
    return value


def pending_signups():
    """Signups whose link still works: each reserves its portal address until then."""
    from django.utils import timezone

    return Signup.objects.filter(completed_at__isnull=True, expires_at__gt=timezone.now())


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
    from tenants import pool

    with transaction.atomic():
        # Pool → clone of the template → migrate (only the last runs migrations); the first
        # write of the transaction, see pool.acquire_schema.
        schema_name, path = pool.acquire_schema()
        tenant = Tenant(schema_name=schema_name, slug=slug, name=name.strip(), kind=kind,
                        status=status, language=language)
        tenant.save(verbosity=0)  # migrates the schema only when it does not exist yet
        Domain.objects.create(domain=f"{slug}.{settings.BASE_DOMAIN}", tenant=tenant, is_primary=True)
    tenant.provisioning_path = path  # pool, clone or migrate: for logs and the benchmark
    log.info("tenant.created", schema=tenant.schema_name, slug=slug, path=path)
    return tenant


def set_status(*, tenant: Tenant, status: str, reason: str = "") -> Tenant:
    """A lifecycle move billing makes; audited and e-mailed, and never out of a cancelled state
    (tenants.transitions.apply_billing_status). The routing cache learns it at once."""
    from tenants import transitions

    return transitions.apply_billing_status(tenant, status=status, reason=reason)


# --- Partners and their client portals ---------------------------------------------------------

def _validated_partner_slug(slug: str) -> str:
    value = (slug or "").strip().lower()
    # The same rules as a portal address: the partner portal may later live under it.
    if not _SLUG_RE.match(value) or value[2:4] == "--":
        raise ValidationError({"slug": _(
            "The partner address must be 3 to 63 characters long and may contain only lower-case letters "
            "a–z, digits and hyphens, not at the start or the end."
        )})
    if Partner.objects.filter(slug__iexact=value).exists():
        raise ValidationError({"slug": _("This partner address is already taken. Please choose another one.")})
    return value


def _validated_email(email: str) -> str:
    value = (email or "").strip()
    try:
        validate_email(value)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid contact e-mail address.")}) from None
    return value


def create_partner(*, name: str, slug: str, email: str) -> Partner:
    """A partner agency; every field is checked before anything is written."""
    if not (name or "").strip():
        raise ValidationError({"name": _("Please enter the partner's name.")})
    slug = _validated_partner_slug(slug)
    email = _validated_email(email)
    partner = Partner.objects.create(name=name.strip(), slug=slug, email=email)
    log.info("partner.created", partner=partner.slug)
    return partner


def link_client_portal(*, partner: Partner, tenant: Tenant) -> Tenant:
    """Make ``tenant`` a client portal of ``partner`` (idempotent).

    A portal has at most one partner; moving it to another one is an explicit unlink first,
    because unlinking may change who pays for it.
    """
    current = Tenant.objects.select_related("partner").get(pk=tenant.pk)  # never trust a cached instance
    if current.is_public:
        raise ValidationError({"tenant": _("The public site cannot be a partner's client portal.")})
    if current.partner_id == partner.pk:
        return current
    if current.partner_id is not None:
        raise ValidationError({"tenant": _(
            "%(partner)s already manages this portal as its client. Unlink it from that partner first."
        ) % {"partner": current.partner.name}})
    current.partner = partner
    current.save(update_fields=["partner", "updated_at"])
    tenant.partner = partner
    log.info("partner.client_linked", partner=partner.slug, schema=current.schema_name)
    return current


def unlink_client_portal(*, tenant: Tenant) -> Tenant:
    """The portal stops being its partner's client; nothing in the portal is deleted (idempotent).

    Receivers of ``client_portal_unlinking`` run first in the same transaction (billing moves
    a partner-paid portal back to paying for itself); if one fails, the portal stays linked.
    """
    with transaction.atomic():
        current = Tenant.objects.select_related("partner").get(pk=tenant.pk)
        if current.partner_id is None:
            return current
        partner = current.partner
        client_portal_unlinking.send(sender=Tenant, tenant=current, partner=partner)
        current.refresh_from_db()  # receivers may have changed its lifecycle state
        current.partner = None
        current.save(update_fields=["partner", "updated_at"])
    tenant.partner = None
    log.info("partner.client_unlinked", partner=partner.slug, schema=current.schema_name)
    return current


CURRENCIES = ("PLN", "EUR", "USD", "GBP", "CZK", "CHF")
LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_MAX_SIDE = 512


def update_portal_settings(*, tenant: Tenant, name: str, language: str, time_zone: str, currency: str) -> Tenant:
    """Portal name, default language, time zone and currency; the address (slug) never changes here."""
    import zoneinfo

    errors = {}
    if not (name or "").strip():
        errors["name"] = _("Please enter the company or portal name.")
    if language not in {code for code, _label in settings.LANGUAGES}:
        errors["language"] = _("Choose Polish or English.")
    if time_zone not in zoneinfo.available_timezones():
        errors["time_zone"] = _("Choose a time zone from the list, e.g. Europe/Warsaw.")
    if currency not in CURRENCIES:
        errors["currency"] = _("Choose one of the currencies: %(list)s.") % {"list": ", ".join(CURRENCIES)}
    if errors:
        raise ValidationError(errors)
    tenant.name, tenant.language, tenant.time_zone, tenant.currency = name.strip(), language, time_zone, currency
    tenant.save(update_fields=["name", "language", "time_zone", "currency", "updated_at"])
    return tenant


def set_portal_logo(*, tenant: Tenant, upload) -> Tenant:
    """Store a PNG or JPEG logo, resized to at most 512×512, under the portal's own file prefix."""
    import io

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from PIL import Image, UnidentifiedImageError

    if upload.size > LOGO_MAX_BYTES:
        raise ValidationError({"logo": _("The logo can be at most 2 MB.")})
    try:
        image = Image.open(upload)
        image_format = image.format
        image.load()
    except (UnidentifiedImageError, OSError):
        raise ValidationError({"logo": _("The logo must be a PNG or JPEG image.")}) from None
    if image_format not in {"PNG", "JPEG"}:
        raise ValidationError({"logo": _("The logo must be a PNG or JPEG image.")})
    image.thumbnail((LOGO_MAX_SIDE, LOGO_MAX_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path = default_storage.save(f"portals/{tenant.schema_name}/logo-{secrets.token_hex(4)}.png",
                                ContentFile(buffer.getvalue()))
    previous = tenant.logo
    tenant.logo = path
    tenant.save(update_fields=["logo", "updated_at"])
    if previous:
        default_storage.delete(previous)
    return tenant


def set_modules(tenant: Tenant, *, enabled: dict, actor) -> Tenant:
    """Switch CRM modules on or off (tenants.modules); keys not given keep their state.

    Records are never touched: a module that is off is only hidden and unreachable. A combination
    that leaves a module without one it needs is refused whole, naming both.
    """
    from tenants import audit, modules

    unknown = sorted(set(enabled) - set(modules.KEYS))
    if unknown:
        raise ValidationError({"modules": _("There is no module called %(keys)s. Modules: %(list)s.") % {
            "keys": ", ".join(unknown), "list": ", ".join(modules.KEYS)}})
    if any(not isinstance(value, bool) for value in enabled.values()):
        raise ValidationError({"modules": _("Say on (true) or off (false) for each module.")})
    with transaction.atomic():
        # Locked so two administrators saving at once cannot both check against the old state.
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        before = modules.states(locked)
        after = before | enabled
        modules.check_combination(after)
        if after != before:
            # Only "off" is stored: a module added to the registry later starts on in every portal.
            locked.modules = {key: False for key, on in after.items() if not on}
            locked.save(update_fields=["modules", "updated_at"])
            audit.record(action="portal.modules_changed", tenant=locked, actor=actor,
                         switched_on=[key for key in modules.KEYS if after[key] and not before[key]],
                         switched_off=[key for key in modules.KEYS if not after[key] and before[key]])
    tenant.modules = locked.modules
    return tenant
