"""Reads of portals and their host names."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

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


# --- Custom domains (docs/decisions/0019) -------------------------------------------------------

# The TXT record a customer creates to prove the domain is theirs: ``_kompas-verify.<domain>``.
VERIFY_RECORD_LABEL = "_kompas-verify"
# Portals in these states keep their domains and certificates; cancelled ones lose them.
TLS_STATES = (Tenant.Status.TRIAL, Tenant.Status.ACTIVE, Tenant.Status.PAST_DUE, Tenant.Status.SUSPENDED)
# Automatic checks of a pending domain: every 5 minutes in its first hour, then less often,
# and none after GIVE_UP_AFTER (a typo in DNS will not fix itself; "Check now" still works).
CHECK_BACKOFF = ((timedelta(hours=1), timedelta(minutes=5)), (timedelta(days=1), timedelta(minutes=30)),
                 (timedelta(days=7), timedelta(hours=2)))
GIVE_UP_AFTER = timedelta(days=7)


def cname_target() -> str:
    """The host name customers point their domain's CNAME at."""
    return settings.CUSTOM_DOMAIN_TARGET


def verification_record_name(domain: str) -> str:
    return f"{VERIFY_RECORD_LABEL}.{domain}"


def domains_of(tenant: Tenant) -> list[Domain]:
    """The portal's host names: its subdomain first, then custom domains in the order added."""
    return list(Domain.objects.filter(tenant_id=tenant.pk).order_by("is_custom", "added_at", "pk"))


def custom_domain_of(tenant: Tenant, domain_id: int) -> Domain | None:
    """One custom domain of this portal, or None: another portal's id finds nothing."""
    return Domain.objects.filter(tenant_id=tenant.pk, pk=domain_id, is_custom=True).first()


def domains_due_for_check(now: datetime | None = None, *, limit: int = 200) -> list[Domain]:
    """Pending custom domains whose next automatic check is due, oldest check first."""
    now = now or timezone.now()
    pending = (Domain.objects.select_related("tenant")
               .filter(is_custom=True, verified_at__isnull=True, added_at__gt=now - GIVE_UP_AFTER,
                       tenant__status__in=TLS_STATES)
               .order_by(F("last_checked_at").asc(nulls_first=True)))
    due = []
    for domain in pending.iterator():
        if domain.last_checked_at is None or now - domain.last_checked_at >= check_interval(domain, now):
            due.append(domain)
            if len(due) >= limit:
                break
    return due


def check_interval(domain: Domain, now: datetime) -> timedelta:
    age = now - (domain.added_at or now)
    for younger_than, interval in CHECK_BACKOFF:
        if age < younger_than:
            return interval
    return CHECK_BACKOFF[-1][1]


def automatic_checks_stopped(domain: Domain, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return domain.verified_at is None and domain.added_at is not None and now - domain.added_at > GIVE_UP_AFTER


def check_problems(domain: Domain) -> list[str]:
    """The last check's findings in the reader's language (stored as codes, see tenants.domains)."""
    codes = [code for code in domain.last_check_error.split(",") if code]
    context = {"record": verification_record_name(domain.domain), "domain": domain.domain, "target": cname_target()}
    messages = {
        "txt_missing": _("The TXT record %(record)s does not exist yet. Add it at your DNS provider; "
                         "changes can take up to a few hours to show."),
        "txt_wrong": _("The TXT record %(record)s exists but does not contain this domain's verification "
                       "code. Copy the value again, without extra quotes or spaces."),
        "domain_missing": _("The domain %(domain)s does not exist in DNS. Check its spelling and that it is "
                            "registered."),
        "dns_timeout": _("The DNS servers of %(domain)s did not answer in time. We will try again."),
        "dns_error": _("The DNS servers of %(domain)s answered with an error. We will try again."),
        "cname_missing": _("%(domain)s has no CNAME record yet: point it at %(target)s so visitors reach "
                           "the portal."),
        "cname_wrong": _("%(domain)s points somewhere else: change its CNAME record to %(target)s so "
                         "visitors reach the portal."),
    }
    return [messages[code] % context if code in messages else code for code in codes]


def tls_allowed(raw_host: str) -> bool:
    """May Caddy obtain a certificate for this exact host name? (tenants.tls)

    Yes for the public site, the portals' own subdomains and verified custom domains, while the
    portal is in a state that keeps its domains; no for everything else, including any host
    that merely looks like a portal's (no wildcard).
    """
    host = (raw_host or "").strip().lower().rstrip(".")
    if not host or len(host) > 253:
        return False
    if host == f"www.{settings.BASE_DOMAIN}":
        host = settings.BASE_DOMAIN
    return (Domain.objects.filter(domain=host, tenant__status__in=TLS_STATES)
            .filter(Q(is_custom=False) | Q(verified_at__isnull=False)).exists())


# --- Provisioning (docs/decisions/0023) ------------------------------------------------------------

def provisioning_problems() -> list:
    """What a crash or failure while creating portals left behind, for the staff console.

    A list of tenants.reconcile.Problem (kind, subject, detail, since, tenant_id), oldest first;
    the reconciliation job fixes most of them within minutes and writes each fix to the audit log.
    """
    from tenants.reconcile import problems

    return problems()


def pool_status() -> dict:
    """Ready schemas in the warm pool at the current migration state, stale ones, and the clone template."""
    from tenants import pool, template
    from tenants.models import PoolSchema

    fingerprint = pool.migration_fingerprint()
    waiting = PoolSchema.objects.filter(claimed_at__isnull=True)
    return {"ready": waiting.filter(fingerprint=fingerprint).count(),
            "stale": waiting.exclude(fingerprint="").exclude(fingerprint=fingerprint).count(),
            "size": pool.POOL_SIZE,
            "template_ready": template.current() is not None}
