"""Creating a whole portal: the tenant (tenants layer) plus its owner (identity layer).

Lives in the platform layer because it is the one place allowed to compose both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone, translation
from django_tenants.utils import tenant_context

from billing.services import start_trial
from identity.accounts.models import PortalAccess, User
from identity.accounts.services import get_or_create_account
from identity.members.services import add_owner
from tenants import audit
from tenants.models import AuditEvent, Signup, Tenant
from tenants.services import create_tenant, pending_signups


@dataclass(frozen=True)
class NewPortal:
    tenant: Tenant
    owner: User
    owner_created: bool


def set_up_crm() -> None:
    """What a new portal's CRM starts with, named in the portal's language: a sales pipeline and
    the usual acquisition sources and contact types."""
    from crm.deals.services import default_pipeline
    from crm.dictionaries.services import seed_defaults

    default_pipeline()
    seed_defaults()


def create_portal(*, name: str, slug: str, owner_email: str, owner_password: str | None = None,
                  owner_name: str = "", kind: str = Tenant.Kind.COMPANY, language: str = "pl") -> NewPortal:
    """Portal + schema + trial subscription + owner account + owner membership, all or nothing.

    One transaction (PostgreSQL DDL is transactional): a failure or a crash at any step leaves
    nothing behind and returns a pool schema to the pool. The schema comes first, before any
    other write: see tenants.pool.acquire_schema for the lock that keeps creations from
    deadlocking when the pool is empty.
    """
    with transaction.atomic():
        tenant = create_tenant(name=name, slug=slug, kind=kind, language=language)
        owner, created = get_or_create_account(email=owner_email, full_name=owner_name, password=owner_password)
        start_trial(tenant=tenant)
        with tenant_context(tenant), translation.override(language):
            add_owner(user=owner)
            set_up_crm()
    return NewPortal(tenant=tenant, owner=owner, owner_created=created)


# --- Reconciliation: the platform's part (tenants.reconcile, docs/decisions/0023) ----------------

MEMBERLESS_AFTER = timedelta(minutes=10)


def finish_stuck_signups(**_signal) -> list[str]:
    """Signups whose creation failed or crashed: create the portal now and e-mail the person."""
    from kompas.site.signup import finish_stuck

    lines = []
    for signup, tenant, error in finish_stuck():
        if tenant is not None:
            audit.record(action="provisioning.signup_finished", tenant=tenant, signup=signup.pk,
                         attempts=signup.creation_attempts)
            lines.append(f"signup {signup.pk}: portal {tenant.slug} finished")
        else:
            audit.record(action="provisioning.signup_retry_failed", reason=error, signup=signup.pk,
                         slug=signup.slug, attempts=signup.creation_attempts)
            lines.append(f"signup {signup.pk}: still failing ({error})")
    return lines


def portals_without_members():
    """Portals nobody can sign in to (no active access at all), older than a creation takes."""
    active = PortalAccess.objects.filter(is_active=True).values("tenant")
    return (Tenant.objects.exclude(schema_name="public").exclude(pk__in=active)
            .filter(created_at__lt=timezone.now() - MEMBERLESS_AFTER).order_by("created_at"))


def _waiting_for_invitation(tenant: Tenant) -> bool:
    from identity.members.invitations import pending_invitations

    with tenant_context(tenant):
        return pending_invitations().exists()


def restore_owners(**_signal) -> list[str]:
    """A portal without members whose signup names its owner gets that owner (and its trial) back;
    any other is reported to staff once in the audit log (a portal made by hand in the admin)."""
    lines = []
    for tenant in portals_without_members():
        signup = Signup.objects.filter(tenant=tenant).order_by("-completed_at").first()
        owner = User.objects.filter(email__iexact=signup.email).first() if signup else None
        if owner is not None:
            with transaction.atomic():
                start_trial(tenant=tenant)
                with tenant_context(tenant), translation.override(tenant.language):
                    add_owner(user=owner)
            audit.record(action="provisioning.owner_restored", tenant=tenant, email=owner.email)
            lines.append(f"portal {tenant.slug}: owner {owner.email} restored")
        elif not _waiting_for_invitation(tenant) and not AuditEvent.objects.filter(
                tenant=tenant, action="provisioning.portal_without_members").exists():
            audit.record(action="provisioning.portal_without_members", tenant=tenant)
            lines.append(f"portal {tenant.slug}: nobody can sign in, reported to staff")
    return lines


def reconcile(**signal) -> list[str]:
    return finish_stuck_signups(**signal) + restore_owners(**signal)


def problems(**_signal) -> list:
    """Stuck signups and portals nobody can sign in to, for tenants.selectors.provisioning_problems."""
    from django.utils.translation import gettext as _

    from kompas.site.signup import MAX_CREATION_ATTEMPTS
    from tenants.reconcile import Kind, Problem

    found = []
    stuck = pending_signups().filter(creation_started_at__isnull=False)
    for signup in stuck:
        detail = (_("Creating the portal failed %(count)s times; the job tries again.")
                  if signup.creation_attempts < MAX_CREATION_ATTEMPTS
                  else _("Creating the portal failed %(count)s times; the job has stopped trying."))
        detail = detail % {"count": signup.creation_attempts}
        if signup.creation_error:
            detail += " " + _("Last error: %(error)s") % {"error": signup.creation_error}
        found.append(Problem(Kind.STUCK_SIGNUP, f"{signup.slug} ({signup.email})", detail,
                             since=signup.creation_started_at))
    for tenant in portals_without_members():
        if _waiting_for_invitation(tenant):
            continue
        found.append(Problem(Kind.PORTAL_WITHOUT_MEMBERS, tenant.slug or tenant.schema_name, _(
            "Nobody can sign in to this portal: it has no members and no pending invitation."),
            since=tenant.created_at, tenant_id=tenant.pk))
    return found


def connect_reconciliation() -> None:
    """Called from KompasConfig.ready()."""
    from tenants.signals import provisioning_problems_requested, provisioning_reconcile_requested

    provisioning_reconcile_requested.connect(reconcile, dispatch_uid="kompas.provisioning.reconcile")
    provisioning_problems_requested.connect(problems, dispatch_uid="kompas.provisioning.problems")
