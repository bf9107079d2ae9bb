"""Every write to a portal's custom domains: add, check DNS, choose the primary, remove.

The flow (docs/decisions/0019): a tenant admin adds ``crm.example.com``; the portal shows a
CNAME ``crm.example.com → settings.CUSTOM_DOMAIN_TARGET`` and a TXT record
``_kompas-verify.crm.example.com`` holding a random token; the domain is verified once the
TXT record holds the token (the CNAME is reported, not required: a CDN or an apex ALIAS may
hide it). Only then does it route (tenants.routing) and get a certificate (tenants.tls).

The plan check (billing's Feature.CUSTOM_DOMAIN) is the caller's job: billing sits above this
layer (DESIGN.md), so the portal's settings page asks billing.limits before calling in here.
"""

from __future__ import annotations

import re
import secrets

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants import audit, dns_check
from tenants.models import Domain, Tenant
from tenants.selectors import cname_target, domains_due_for_check

log = structlog.get_logger(__name__)

MAX_CUSTOM_DOMAINS = 20
MAX_DOMAIN_LENGTH = 253
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Top-level names that never resolve on the public internet, so they could never be verified.
_PRIVATE_TLDS = frozenset({"localhost", "local", "internal", "invalid", "arpa", "onion", "lan", "home"})


def _field_error(message: str) -> ValidationError:
    return ValidationError({"domain": message})


def validate_custom_domain(raw: str, *, tenant: Tenant) -> str:
    """The domain in canonical form (lower case, IDN as punycode), or a field error naming the reason."""
    value = (raw or "").strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/").rstrip(".")
    if not value:
        raise _field_error(_("Enter a domain name, e.g. crm.example.com."))
    if any(char in value for char in "/:@?# "):
        raise _field_error(_("Enter only the domain name, e.g. crm.example.com, without a path, a port or "
                             "an e-mail address."))
    try:
        value = value.encode("idna").decode("ascii")  # "żółw.pl" → "xn--w-uga1v8h.pl"
    except UnicodeError:
        raise _field_error(_("This is not a valid domain name: each part between dots must be 1 to 63 "
                             "characters long.")) from None
    if len(value) > MAX_DOMAIN_LENGTH:
        raise _field_error(_("A domain name can be at most %(limit)s characters long.") % {"limit": MAX_DOMAIN_LENGTH})
    labels = value.split(".")
    if len(labels) < 2:
        raise _field_error(_("Enter a full domain name with a dot, e.g. crm.example.com."))
    if not all(_LABEL_RE.match(label) for label in labels):
        raise _field_error(_("A domain name may contain only letters, digits and hyphens between the dots, "
                             "and no part may start or end with a hyphen."))
    if labels[-1].isdigit():
        raise _field_error(_("Enter a domain name, not an IP address."))
    if labels[-1] in _PRIVATE_TLDS:
        raise _field_error(_("This domain is not reachable from the internet, so it cannot be verified."))
    subdomain = f"{tenant.slug}.{settings.BASE_DOMAIN}"
    for own in {settings.BASE_DOMAIN, cname_target()}:
        if value == own or value.endswith(f".{own}"):
            raise _field_error(_("Addresses under %(base)s belong to the platform; your portal already has "
                                 "%(subdomain)s.") % {"base": own, "subdomain": subdomain})
    _refuse_taken(value, tenant=tenant)
    return value


def _refuse_taken(value: str, *, tenant: Tenant) -> None:
    owner_id = Domain.objects.filter(domain=value).values_list("tenant_id", flat=True).first()
    if owner_id == tenant.pk:
        raise _field_error(_("This domain is already added to your portal."))
    if owner_id is not None:
        # Never say which portal: the name of another customer is not this admin's business.
        raise _field_error(_("This domain is already connected to another portal. If it is yours, please "
                             "contact support."))


def new_verification_token() -> str:
    return f"kompas-{secrets.token_hex(16)}"


def add_custom_domain(*, tenant: Tenant, domain: str, actor=None, ip: str | None = None) -> Domain:
    """Store a pending custom domain with a fresh verification token; it routes only once verified.

    Two portals racing for one name: the unique index on Domain.domain lets exactly one in, and
    the other gets the same field error as if it had come second.
    """
    value = validate_custom_domain(domain, tenant=tenant)
    try:
        with transaction.atomic():
            # The portal's row is the lock that makes the per-portal limit exact.
            Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
            if Domain.objects.filter(tenant_id=tenant.pk, is_custom=True).count() >= MAX_CUSTOM_DOMAINS:
                raise _field_error(_("A portal can have at most %(limit)s custom domains. Remove one you no "
                                     "longer use first.") % {"limit": MAX_CUSTOM_DOMAINS})
            row = Domain.objects.create(domain=value, tenant_id=tenant.pk, is_primary=False, is_custom=True,
                                        verification_token=new_verification_token())
            audit.record(action="domain.added", tenant=tenant, actor=actor, ip=ip, domain=value)
    except IntegrityError:
        _refuse_taken(value, tenant=tenant)
        raise  # not the domain's uniqueness: a real error
    log.info("domain.added", schema=tenant.schema_name, domain=value)
    return row


def check_domain(domain: Domain, *, actor=None, ip: str | None = None) -> dns_check.DnsReport:
    """Ask DNS now and store what it said; verifies the domain when the TXT record holds the token.

    A verified domain stays verified when a later check fails: removing the TXT record after
    verification is normal. DNS is asked outside any transaction, so no lock waits on the network.
    """
    report = dns_check.check(domain.domain, domain.verification_token)
    now = timezone.now()
    with transaction.atomic():
        current = Domain.objects.select_for_update().select_related("tenant").filter(pk=domain.pk).first()
        if current is None:  # removed while we asked
            return report
        newly_verified = report.txt_ok and current.verified_at is None
        current.last_checked_at = now
        current.last_check_error = ",".join(report.problems)[:300]
        fields = ["last_checked_at", "last_check_error"]
        if newly_verified:
            current.verified_at = now
            fields.append("verified_at")
        current.save(update_fields=fields)  # post_save drops the routing cache's "unknown host"
        if newly_verified:
            audit.record(action="domain.verified", tenant=current.tenant, actor=actor, ip=ip,
                         domain=current.domain, cname_ok=report.cname_ok)
    domain.last_checked_at, domain.last_check_error = current.last_checked_at, current.last_check_error
    domain.verified_at = current.verified_at
    log.info("domain.checked", domain=current.domain, verified=current.verified_at is not None,
             problems=report.problems)
    return report


def check_due_domains() -> int:
    """The periodic job: check every pending domain whose turn has come (backoff in selectors)."""
    checked = 0
    for domain in domains_due_for_check():
        try:
            check_domain(domain)
        except Exception:  # one broken domain must not stop the others
            log.exception("domain.check_failed", domain=domain.domain)
            continue
        checked += 1
    return checked


def set_primary_domain(*, tenant: Tenant, domain_id: int, actor=None, ip: str | None = None) -> Domain:
    """Make one of the portal's own host names the address its links and e-mails use.

    Raises Domain.DoesNotExist for an id of another portal (the caller answers 404).
    """
    with transaction.atomic():
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
        domain = Domain.objects.get(tenant_id=tenant.pk, pk=domain_id)
        if domain.is_custom and domain.verified_at is None:
            raise _field_error(_("Only a verified domain can be the primary address. Add the DNS records "
                                 "and check the domain first."))
        if domain.is_primary:
            return domain
        previous = (Domain.objects.filter(tenant_id=tenant.pk, is_primary=True)
                    .values_list("domain", flat=True).first())
        Domain.objects.filter(tenant_id=tenant.pk).exclude(pk=domain.pk).update(is_primary=False)
        domain.is_primary = True
        domain.save(update_fields=["is_primary"])
        audit.record(action="domain.primary_changed", tenant=tenant, actor=actor, ip=ip,
                     domain=domain.domain, previous=previous or "")
    log.info("domain.primary_changed", schema=tenant.schema_name, domain=domain.domain)
    return domain


def remove_custom_domain(*, tenant: Tenant, domain_id: int, actor=None, ip: str | None = None) -> None:
    """Remove a custom domain; when it was the primary, the portal's subdomain becomes primary again.

    Raises Domain.DoesNotExist for an id of another portal or for the subdomain itself.
    """
    with transaction.atomic():
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
        domain = Domain.objects.get(tenant_id=tenant.pk, pk=domain_id, is_custom=True)
        name, was_primary = domain.domain, domain.is_primary
        domain.delete()  # post_delete drops the host from the routing cache
        if was_primary:
            subdomain = Domain.objects.filter(tenant_id=tenant.pk, is_custom=False).order_by("pk").first()
            if subdomain is not None:
                subdomain.is_primary = True
                subdomain.save(update_fields=["is_primary"])
        audit.record(action="domain.removed", tenant=tenant, actor=actor, ip=ip, domain=name,
                     was_primary=was_primary)
    log.info("domain.removed", schema=tenant.schema_name, domain=name)
