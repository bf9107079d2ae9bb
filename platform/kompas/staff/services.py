"""Every write the staff console makes: lifecycle actions, plan changes, platform settings, impersonation.

Each action needs a reason and leaves one line in the platform audit log (tenants.audit) with the
staff member as the actor. Lifecycle rules themselves live in tenants.transitions; plans and
payments in billing; this module only composes them for staff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import tenant_context

from billing import limits
from billing import services as billing_services
from billing.models import Plan, PlanPrice, Resource, Subscription
from billing.selectors import subscription_of
from identity.accounts.models import User
from identity.members.selectors import membership_of
from identity.members.tokens import new_token, token_hash
from kompas.staff.models import ImpersonationGrant
from tenants import audit
from tenants.models import AuditEvent, Impersonation, PlatformSettings, Tenant

log = structlog.get_logger(__name__)

STAFF = AuditEvent.ActorKind.STAFF
# The entry link works for a short while only; the impersonation itself lasts longer.
TOKEN_MINUTES = 5
REASON_MAX = 500


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise ValidationError({"reason": _("Reason: write at least a few words on why (it goes to the audit log "
                                           "and the portal's administrators see it).")})
    return reason[:REASON_MAX]


# --- Lifecycle actions ---------------------------------------------------------------------------

ACTIONS = ("suspend", "resume", "extend_trial", "cancel", "schedule_deletion", "reactivate")


def run_lifecycle_action(*, tenant: Tenant, action: str, actor: User, reason: str, days: int | None = None) -> Tenant:
    """One lifecycle transition (tenants.transitions) by a staff member, with its reason.

    The transition writes the audit line itself (``portal.<event>``, the staff member as the actor,
    so its kind is "staff") and e-mails the portal's administrators; an invalid move raises a
    ValidationError naming the reason, and then nothing is written.
    """
    from tenants import transitions

    if action not in ACTIONS:
        raise ValidationError({"action": _("Unknown action.")})
    reason = _require_reason(reason)
    extra = {"days": days} if action == "extend_trial" else {}
    getattr(transitions, action)(tenant, actor=actor, reason=reason, **extra)
    tenant.refresh_from_db()
    log.info("staff.lifecycle_action", action=action, schema=tenant.schema_name, actor=actor.pk)
    return tenant


# --- Plans -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlanChangeOutcome:
    kind: str  # "now", "at_period_end", "partner"
    message: str


def change_plan(*, tenant: Tenant, plan: Plan, seats: int | None, actor: User, reason: str,
                ip: str | None = None) -> PlanChangeOutcome:
    """Move a portal to another plan the way its billing allows, audited.

    - paid by a partner: the portal's item on the partner's Stripe subscription changes (prorated);
    - paying through its own Stripe subscription: upgrades at once with proration (re-read from
      Stripe so the limits apply now), downgrades at the end of the period (data is never deleted);
    - not paying through Stripe (trial, free plan, lapsed): the plan is set here.
    """
    from billing import partner_billing, stripe_gateway, stripe_sync

    reason = _require_reason(reason)
    seats = _checked_seats(tenant, plan, seats)
    subscription = subscription_of(tenant)
    previous = subscription.plan.code if subscription else None
    if subscription is not None and subscription.is_partner_paid:
        account = subscription.partner_account
        price = _price(plan, currency=account.currency, interval=account.interval)
        partner_billing.change_client_plan(tenant=tenant, price=price, seats=seats)
        outcome = PlanChangeOutcome("partner", _("The plan was changed on the partner's subscription."))
    elif subscription is not None and subscription.stripe_subscription_id and subscription.status in (
            Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE):
        change = billing_services.kind_of_change(subscription.plan, plan, current_seats=subscription.seats,
                                                 new_seats=seats)
        if change == billing_services.PlanChange.SAME:
            raise ValidationError({"plan": _("The portal is already on this plan.")})
        if change == billing_services.PlanChange.UPGRADE:
            price = _price(plan, currency=subscription.currency, interval=subscription.interval)
            stripe_gateway.change_subscription(subscription=subscription, price=price, seats=seats, prorate=True)
            with transaction.atomic():
                locked = Subscription.objects.select_for_update().get(pk=subscription.pk)
                stripe_sync.sync_from_stripe(locked)
            outcome = PlanChangeOutcome("now", _("The plan was upgraded now; Stripe charges the difference pro rata."))
        else:
            billing_services.schedule_downgrade(tenant=tenant, plan=plan, seats=seats)
            outcome = PlanChangeOutcome("at_period_end", _("The smaller plan starts with the next billing period."))
    else:
        if subscription is not None and subscription.plan_id == plan.pk and subscription.seats == seats:
            raise ValidationError({"plan": _("The portal is already on this plan.")})
        billing_services.assign_plan(tenant=tenant, plan=plan, seats=seats)
        outcome = PlanChangeOutcome("now", _("The plan was changed now."))
    audit.record(action="staff.change_plan", tenant=tenant, actor=actor, actor_kind=STAFF, reason=reason, ip=ip,
                 previous_plan=previous, plan=plan.code, seats=seats, applies=outcome.kind)
    return outcome


def _checked_seats(tenant: Tenant, plan: Plan, seats: int | None) -> int | None:
    if not plan.per_seat:
        return None
    if not seats or seats < 1:
        raise ValidationError({"seats": _("Seats: enter how many users the per-user plan should cover.")})
    used = limits.usage_of(tenant, Resource.SEATS)
    if seats < used:
        raise ValidationError({"seats": _("Seats: the portal has %(used)s users and pending invitations; choose at "
                                          "least that many.") % {"used": used}})
    return seats


def _price(plan: Plan, *, currency: str, interval: str) -> PlanPrice:
    price = PlanPrice.objects.select_related("plan").filter(plan=plan, currency=currency, interval=interval).first()
    if price is None:
        raise ValidationError({"plan": _("Plan: %(plan)s has no %(interval)s price in %(currency)s, which this "
                                         "portal is billed in.") % {
            "plan": plan.name, "interval": PlanPrice.Interval(interval).label, "currency": currency}})
    return price


# --- Platform settings ------------------------------------------------------------------------------

def update_platform_settings(*, actor: User, deletion_grace_days: int, impersonation_minutes: int,
                             ip: str | None = None) -> PlatformSettings:
    errors = {}
    if not 1 <= deletion_grace_days <= 365:
        errors["deletion_grace_days"] = _("Days before deletion: enter a whole number from 1 to 365.")
    if not 5 <= impersonation_minutes <= 240:
        errors["impersonation_minutes"] = _("Longest staff access: enter a whole number of minutes from 5 to 240.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        row = PlatformSettings.objects.select_for_update().filter(pk=PlatformSettings.load().pk).get()
        before = {"deletion_grace_days": row.deletion_grace_days, "impersonation_minutes": row.impersonation_minutes}
        row.deletion_grace_days, row.impersonation_minutes = deletion_grace_days, impersonation_minutes
        row.save(update_fields=["deletion_grace_days", "impersonation_minutes"])
        audit.record(action="staff.platform_settings", actor=actor, actor_kind=STAFF, ip=ip, before=before,
                     after={"deletion_grace_days": deletion_grace_days, "impersonation_minutes": impersonation_minutes})
    return row


# --- Impersonation -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class NewImpersonation:
    impersonation: Impersonation
    token: str  # shown once, in the redirect to the portal's host; only its SHA-256 is stored


def start_impersonation(*, tenant: Tenant, actor: User, as_user_id: int, reason: str,
                        ip: str | None = None) -> NewImpersonation:
    """A one-time entry link for ``tenant``'s own host, as one of its active members, for a limited time."""
    reason = _require_reason(reason)
    if tenant.is_public:
        raise ValidationError({"tenant": _("The public site has no members to enter as.")})
    as_user = User.objects.filter(pk=as_user_id, is_active=True).first()
    with tenant_context(tenant):
        membership = membership_of(as_user) if as_user is not None else None
        if membership is None or not membership.is_active:
            raise ValidationError({"as_user": _("Member: choose an active member of this portal.")})
    minutes = PlatformSettings.load().impersonation_minutes
    now = timezone.now()
    token = new_token()
    with transaction.atomic():
        impersonation = Impersonation.objects.create(staff_user=actor, tenant=tenant, reason=reason,
                                                     token_hash=token_hash(token),
                                                     expires_at=now + timedelta(minutes=minutes))
        ImpersonationGrant.objects.create(impersonation=impersonation, as_user=as_user, as_label=as_user.email,
                                          token_expires_at=min(impersonation.expires_at,
                                                               now + timedelta(minutes=TOKEN_MINUTES)))
        audit.record(action="impersonation.started", tenant=tenant, actor=actor, actor_kind=STAFF, reason=reason,
                     ip=ip, impersonation=impersonation.pk, as_member=as_user.email,
                     until=impersonation.expires_at.isoformat())
    return NewImpersonation(impersonation=impersonation, token=token)


class TokenRefused(Exception):
    """The entry link cannot be used: unknown, used, expired or for another portal (one answer for all)."""


def usable_entry(*, token: str, tenant: Tenant, lock: bool = False, now=None) -> Impersonation:
    """The impersonation an entry link opens on this portal's host, or TokenRefused (nothing is used up)."""
    now = now or timezone.now()
    queryset = Impersonation.objects.select_related("grant", "staff_user")
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    impersonation = queryset.filter(token_hash=token_hash(token or "")).first()
    if impersonation is None or impersonation.tenant_id != tenant.pk:
        raise TokenRefused
    grant = impersonation.grant
    if (grant.redeemed_at is not None or impersonation.ended_at is not None or now >= grant.token_expires_at
            or now >= impersonation.expires_at or not impersonation.staff_user.is_staff
            or not impersonation.staff_user.is_active):
        raise TokenRefused
    return impersonation


def redeem_impersonation(*, token: str, tenant: Tenant, ip: str | None = None) -> Impersonation:
    """Use an entry link on the portal's own host: once, before it expires, only for this portal.

    A link shown on another portal's host is refused without being used up, and without telling
    which of the reasons applied.
    """
    now = timezone.now()
    with transaction.atomic():
        impersonation = usable_entry(token=token, tenant=tenant, lock=True, now=now)
        grant = impersonation.grant
        grant.redeemed_at = now
        grant.save(update_fields=["redeemed_at"])
        audit.record(action="impersonation.entered", tenant=tenant, actor=impersonation.staff_user,
                     actor_kind=STAFF, ip=ip, impersonation=impersonation.pk, as_member=grant.as_label)
    return impersonation


def end_impersonation(*, impersonation: Impersonation, ended_by: str, actor: User | None = None,
                      ip: str | None = None) -> Impersonation:
    """End it now (staff's "end now", a portal administrator, logging out) or at its expiry; idempotent."""
    now = timezone.now()
    with transaction.atomic():
        current = (Impersonation.objects.select_for_update(of=("self",)).select_related("tenant", "staff_user")
                   .get(pk=impersonation.pk))
        if current.ended_at is not None:
            return current
        current.ended_at = min(now, current.expires_at)
        current.save(update_fields=["ended_at"])
        ImpersonationGrant.objects.filter(impersonation=current).update(ended_by=ended_by)
        audit.record(action="impersonation.ended", tenant=current.tenant, actor=actor or current.staff_user,
                     actor_kind=STAFF if ended_by != "portal_admin" else AuditEvent.ActorKind.TENANT, ip=ip,
                     impersonation=current.pk, ended_by=ended_by)
    return current


def end_expired_impersonations(*, now=None) -> int:
    """Close every impersonation past its time, so the log says when it ended even if nobody came back."""
    now = now or timezone.now()
    expired = Impersonation.objects.filter(ended_at__isnull=True, expires_at__lte=now)
    count = 0
    for impersonation in expired:
        end_impersonation(impersonation=impersonation, ended_by="expiry")
        count += 1
    return count
