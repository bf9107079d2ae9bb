"""Reads for the partner pages (public host) and for a client portal's Settings → Partner page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing import limits
from billing.models import Resource, Subscription
from billing.selectors import subscription_of
from identity.accounts.models import PortalAccess, User
from identity.members.models import Membership
from kompas.partners.models import PartnerInvitation
from tenants.models import Domain, Partner, PartnerLinkRequest, PartnerMember, Tenant
from tenants.selectors import portal_address

# --- Who works for which partner ----------------------------------------------------------------

def partner_memberships_of(user: User) -> QuerySet[PartnerMember]:
    return (PartnerMember.objects.select_related("partner").filter(user_id=user.pk, is_active=True)
            .order_by("partner__name"))


def partner_membership(user: User, partner_slug: str) -> PartnerMember | None:
    """The person's active membership of the partner at ``partner_slug``; None for anyone else."""
    return partner_memberships_of(user).filter(partner__slug=partner_slug).first()


def members_of(partner: Partner) -> QuerySet[PartnerMember]:
    return PartnerMember.objects.select_related("user").filter(partner=partner).order_by("-is_active", "user__email")


def member_of_partner(partner: Partner, member_id: int) -> PartnerMember | None:
    return PartnerMember.objects.select_related("user").filter(partner=partner, pk=member_id).first()


def pending_partner_invitations(partner: Partner) -> QuerySet[PartnerInvitation]:
    return PartnerInvitation.objects.filter(partner=partner, accepted_at__isnull=True, revoked_at__isnull=True,
                                            expires_at__gt=timezone.now())


def partner_invitation_for_token(token_hash: str) -> PartnerInvitation | None:
    return (PartnerInvitation.objects.select_related("partner")
            .filter(token_hash=token_hash, accepted_at__isnull=True, revoked_at__isnull=True,
                    expires_at__gt=timezone.now()).first())


# --- The partner's clients ----------------------------------------------------------------------

def client_portals(partner: Partner) -> QuerySet[Tenant]:
    return Tenant.objects.filter(partner=partner).order_by("name")


def client_of(partner: Partner, tenant_id: int) -> Tenant | None:
    """A client portal of this partner only: a guessed id of anyone else's portal finds nothing."""
    return client_portals(partner).filter(pk=tenant_id).first()


@dataclass(frozen=True)
class ClientRow:
    tenant: Tenant
    url: str
    plan: str
    seats_used: int
    seats_bought: int | None
    state: str
    renews_on: datetime | None
    renewal_kind: str  # "trial" (trial ends) or "period" (next renewal)
    paid_by_partner: bool
    you_have_access: bool


def _renewal(subscription: Subscription | None) -> tuple[datetime | None, str]:
    if subscription is None:
        return None, ""
    if subscription.status == Subscription.Status.TRIALING:
        return subscription.trial_ends_at, "trial"
    return subscription.current_period_end, "period"


def client_rows(partner: Partner, *, viewer: User, scheme: str, port: str | int | None = None) -> list[ClientRow]:
    """Each client portal with its plan, seats used against seats bought, state and renewal date.

    Seats are counted in each portal's schema (a query per client): a partner has tens of
    clients, not thousands, and the page is the partner's own.
    """
    tenants = list(client_portals(partner))
    with_access = set(PortalAccess.objects.filter(user_id=viewer.pk, is_active=True, tenant__in=tenants)
                      .values_list("tenant_id", flat=True))
    rows = []
    for tenant in tenants:
        subscription = subscription_of(tenant)
        plan = subscription.plan if subscription else None
        renews_on, renewal_kind = _renewal(subscription)
        rows.append(ClientRow(
            tenant=tenant, url=portal_address(tenant.slug, scheme=scheme, port=port),
            plan=plan.name if plan else "—",
            seats_used=limits.usage_of(tenant, Resource.SEATS),
            seats_bought=limits.limit_of(tenant, Resource.SEATS),
            state=subscription.get_status_display() if subscription else tenant.get_status_display(),
            renews_on=renews_on, renewal_kind=renewal_kind,
            paid_by_partner=bool(subscription and subscription.is_partner_paid),
            you_have_access=tenant.pk in with_access))
    return rows


def access_in_client(partner: Partner, tenant: Tenant) -> dict[int, bool]:
    """For each of the partner's members: does the person have partner access in ``tenant`` now?"""
    user_ids = list(PartnerMember.objects.filter(partner=partner).values_list("user_id", flat=True))
    with tenant_context(tenant):
        active = set(Membership.objects.filter(user_id__in=user_ids, is_active=True, is_partner_access=True)
                     .values_list("user_id", flat=True))
    return {user_id: user_id in active for user_id in user_ids}


def answered_link_requests(partner: Partner) -> QuerySet[PartnerLinkRequest]:
    """Requests the portals have answered. Pending ones are not listed: that would tell the partner
    which typed addresses exist (the asking page answers the same for every address)."""
    return (PartnerLinkRequest.objects.select_related("tenant").filter(partner=partner)
            .exclude(state=PartnerLinkRequest.State.PENDING).order_by("-decided_at")[:20])


# --- Finding a portal by the address a partner typed --------------------------------------------

def portal_by_address(address: str) -> Tenant | None:
    """A portal by its address (``acme``, ``acme.<BASE_DOMAIN>``, a URL, or a verified custom domain)."""
    value = (address or "").strip().lower()
    for prefix in ("https://", "http://"):
        value = value.removeprefix(prefix)
    value = value.split("/", 1)[0].split(":", 1)[0].rstrip(".")
    if not value:
        return None
    if "." not in value:
        return Tenant.objects.filter(slug__iexact=value).exclude(schema_name="public").first()
    domain = (Domain.objects.select_related("tenant")
              .filter(Q(is_custom=False) | Q(verified_at__isnull=False), domain=value).first())
    if domain is None or domain.tenant.is_public:
        return None
    return domain.tenant


# --- The client portal's side (run inside the portal's schema) ----------------------------------

def pending_requests_for(tenant: Tenant) -> QuerySet[PartnerLinkRequest]:
    return (PartnerLinkRequest.objects.select_related("partner", "requested_by")
            .filter(tenant=tenant, state=PartnerLinkRequest.State.PENDING).order_by("created_at"))


def request_for(tenant: Tenant, request_id: int) -> PartnerLinkRequest | None:
    """A pending request addressed to ``tenant``: another portal's request id finds nothing."""
    return pending_requests_for(tenant).filter(pk=request_id).first()


def partner_access_memberships() -> QuerySet[Membership]:
    """The partner's people with access to the current portal."""
    return Membership.objects.select_related("user").filter(is_partner_access=True, is_active=True).order_by(
        "user__email")


def portal_admin_emails(tenant: Tenant) -> list[str]:
    """The client's own administrators (never the partner's people): they decide about partners."""
    with tenant_context(tenant):
        admins = (Membership.objects.select_related("user", "role")
                  .filter(is_active=True, is_partner_access=False, user__is_active=True)
                  .filter(Q(is_admin=True) | Q(role__is_administrator=True)))
        return sorted({membership.user.email for membership in admins})


def partner_admin_emails(partner: Partner) -> list[str]:
    admins = PartnerMember.objects.select_related("user").filter(partner=partner, is_active=True,
                                                                 role=PartnerMember.Role.ADMIN)
    return sorted({partner.email, *(member.user.email for member in admins)})
