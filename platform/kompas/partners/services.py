"""Every write of the partner portal (docs/decisions/0022).

Partner side (public host): the partner's members and invitations, creating a client portal,
asking to link an existing one, choosing which of the partner's people may enter a client.
Client side (the client portal's Settings → Partner): approving or declining a link request,
revoking a person's access or the whole partnership.

The partner's access to a client portal is nothing but portal memberships marked
``is_partner_access`` (identity.members.services.grant_partner_access): the client sees them
and can end them at any time, and the portal's own login refuses them from then on.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_tenants.utils import tenant_context

from billing.services import start_trial
from identity.accounts.models import User
from identity.accounts.services import get_or_create_account
from identity.members import invitations
from identity.members.models import Membership, Role
from identity.members.services import grant_partner_access, revoke_partner_access
from identity.members.tokens import new_token, token_hash
from kompas.partners import selectors
from kompas.partners.models import PartnerInvitation
from kompas.provisioning import set_up_crm
from tenants import audit
from tenants.models import AuditEvent, Partner, PartnerLinkRequest, PartnerMember, Tenant
from tenants.services import create_partner, create_tenant, link_client_portal, unlink_client_portal, validate_slug

log = structlog.get_logger(__name__)

PARTNER = AuditEvent.ActorKind.PARTNER
TENANT = AuditEvent.ActorKind.TENANT
INVITATION_DAYS = 7
# After a decline the same partner may ask the same portal again only after this: no e-mail floods.
ASK_AGAIN_AFTER = timedelta(days=7)


def _mail(recipients: Iterable[str], subject: str, body: str) -> None:
    recipients = sorted(set(recipients))
    if recipients:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)


def _require_admin(member: PartnerMember) -> None:
    if not (member.is_active and member.role == PartnerMember.Role.ADMIN):
        raise PermissionError("partner administrators only")


# --- The partner's own people -------------------------------------------------------------------

def invite_member(*, by: PartnerMember, email: str, role: str, link_for) -> PartnerInvitation:
    """E-mail an invitation to work for the partner; ``link_for(token)`` builds its address."""
    _require_admin(by)
    return _invite(partner=by.partner, email=email, role=role, invited_by=by.user, link_for=link_for)


def _invite(*, partner: Partner, email: str, role: str, invited_by: User, link_for) -> PartnerInvitation:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid e-mail address.")}) from None
    if role not in PartnerMember.Role.values:
        raise ValidationError({"role": _("Choose a role from the list.")})
    if PartnerMember.objects.filter(partner=partner, user__email__iexact=email, is_active=True).exists():
        raise ValidationError({"email": _("This person already works for %(partner)s.") % {"partner": partner.name}})
    if selectors.pending_partner_invitations(partner).filter(email__iexact=email).exists():
        raise ValidationError({"email": _("This person has already been invited; the invitation is still valid.")})
    token = new_token()
    with transaction.atomic():
        invitation = PartnerInvitation.objects.create(
            partner=partner, email=email, role=role, token_hash=token_hash(token), invited_by=invited_by,
            expires_at=timezone.now() + timedelta(days=INVITATION_DAYS))
        audit.record(action="partner.member_invited", actor=invited_by, partner=partner, email=email, role=role,
                     actor_kind=AuditEvent.ActorKind.STAFF if invited_by.is_staff else PARTNER)
        link = link_for(token)
        transaction.on_commit(lambda: _send_member_invitation(invitation, link))
    return invitation


def create_partner_with_admin(*, staff: User, name: str, slug: str, email: str, admin_email: str,
                              link_for) -> Partner:
    """Platform staff add a partner agency and invite its first administrator (Django admin uses this)."""
    if not staff.is_staff:
        raise PermissionError("platform staff only")
    try:
        validate_email((admin_email or "").strip())
    except ValidationError:
        raise ValidationError({"admin_email": _("Enter the e-mail address of the partner's first "
                                                "administrator.")}) from None
    with transaction.atomic():
        partner = create_partner(name=name, slug=slug, email=email)
        audit.record(action="partner.created", actor=staff, actor_kind=AuditEvent.ActorKind.STAFF, partner=partner)
        _invite(partner=partner, email=admin_email, role=PartnerMember.Role.ADMIN, invited_by=staff, link_for=link_for)
    return partner


def _send_member_invitation(invitation: PartnerInvitation, link: str) -> None:
    inviter = invitation.invited_by.get_full_name() if invitation.invited_by else invitation.partner.name
    values = {"inviter": inviter, "partner": invitation.partner.name, "days": INVITATION_DAYS, "link": link}
    _mail([invitation.email], _("%(inviter)s invites you to work for %(partner)s on Kompas") % values,
          _("Hello,\n\n%(inviter)s invites you to the partner team of %(partner)s on Kompas, where you manage "
            "the portals of its clients.\n\nAccept the invitation here (the link is valid for %(days)s days):\n"
            "%(link)s\n\nIf you did not expect this e-mail, you can ignore it.\n") % values)


def invitation_for_token(token: str) -> PartnerInvitation | None:
    return selectors.partner_invitation_for_token(token_hash(token))


def accept_invitation(*, invitation: PartnerInvitation, user: User) -> PartnerMember:
    if user.email.lower() != invitation.email.lower():
        raise ValidationError({"email": _("This invitation was sent to another e-mail address.")})
    with transaction.atomic():
        locked = PartnerInvitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.accepted_at or locked.revoked_at or locked.expires_at <= timezone.now():
            raise ValidationError({"invitation": _("This invitation is no longer valid.")})
        locked.accepted_at = timezone.now()
        locked.save(update_fields=["accepted_at"])
        member, _created = PartnerMember.objects.update_or_create(
            partner=locked.partner, user=user, defaults={"role": locked.role, "is_active": True})
        audit.record(action="partner.member_joined", actor=user, actor_kind=PARTNER, partner=locked.partner,
                     role=locked.role)
    return member


def accept_invitation_as_new_account(*, invitation: PartnerInvitation, full_name: str, password: str) -> PartnerMember:
    from django.contrib.auth.password_validation import validate_password

    if User.objects.filter(email__iexact=invitation.email).exists():
        raise ValidationError({"email": _("An account with this e-mail address exists; enter its password.")})
    if not (full_name or "").strip():
        raise ValidationError({"full_name": _("Please enter your name.")})
    try:
        validate_password(password, User(email=invitation.email, full_name=full_name))
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None
    with transaction.atomic():
        user, _created = get_or_create_account(email=invitation.email, full_name=full_name, password=password)
        return accept_invitation(invitation=invitation, user=user)


def _refuse_losing_the_last_admin(member: PartnerMember) -> None:
    others = PartnerMember.objects.filter(partner_id=member.partner_id, role=PartnerMember.Role.ADMIN,
                                          is_active=True).exclude(pk=member.pk)
    if member.role == PartnerMember.Role.ADMIN and not others.exists():
        raise ValidationError({"role": _("The partner needs at least one active administrator. Make someone else "
                                         "an administrator first.")})


def set_member_role(*, by: PartnerMember, member: PartnerMember, role: str) -> PartnerMember:
    _require_admin(by)
    if member.partner_id != by.partner_id:
        raise PermissionError("another partner's member")
    if role not in PartnerMember.Role.values:
        raise ValidationError({"role": _("Choose a role from the list.")})
    with transaction.atomic():
        member = PartnerMember.objects.select_for_update().get(pk=member.pk)
        if role != PartnerMember.Role.ADMIN:
            _refuse_losing_the_last_admin(member)
        member.role = role
        member.save(update_fields=["role"])
        audit.record(action="partner.member_role_changed", actor=by.user, actor_kind=PARTNER, partner=by.partner,
                     email=member.user.email, role=role)
    return member


def set_member_active(*, by: PartnerMember, member: PartnerMember, active: bool) -> PartnerMember:
    """Deactivating also ends the person's partner access in every client portal."""
    _require_admin(by)
    if member.partner_id != by.partner_id:
        raise PermissionError("another partner's member")
    with transaction.atomic():
        member = PartnerMember.objects.select_for_update().select_related("user").get(pk=member.pk)
        if not active:
            _refuse_losing_the_last_admin(member)
            for tenant in selectors.client_portals(by.partner):
                with tenant_context(tenant):
                    revoke_partner_access(users=[member.user])
        member.is_active = active
        member.save(update_fields=["is_active"])
        audit.record(action="partner.member_activated" if active else "partner.member_deactivated",
                     actor=by.user, actor_kind=PARTNER, partner=by.partner, email=member.user.email)
    return member


# --- Client portals -----------------------------------------------------------------------------

def _grant(tenant: Tenant, members: Iterable[PartnerMember]) -> list[str]:
    granted = []
    with tenant_context(tenant):
        for member in members:
            if member.is_active and grant_partner_access(user=member.user) is not None:
                granted.append(member.user.email)
    return granted


def _one_creation_at_a_time() -> None:
    # The signup path's lock: two portals created at once with an empty warm pool deadlock
    # otherwise (kompas.site.signup explains why).
    from kompas.site.signup import _one_completion_at_a_time

    _one_completion_at_a_time()


def create_client_portal(*, by: PartnerMember, name: str, slug: str, owner_email: str, language: str,
                         managers: Iterable[PartnerMember], scheme: str, port: str | int | None = None) -> Tenant:
    """A new portal for a client: trial, CRM defaults, an owner invitation, the partner's access.

    The client's owner becomes the owner (Administrator) on accepting the e-mailed invitation;
    until then the partner's chosen people manage the portal. All or nothing.
    """
    _require_admin(by)
    partner = by.partner
    errors = {}
    if not (name or "").strip():
        errors["name"] = [_("Please enter the company or portal name.")]
    try:
        slug = validate_slug(slug)
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        validate_email((owner_email or "").strip())
    except ValidationError:
        errors["owner_email"] = [_("Enter the client owner's e-mail address.")]
    if language not in {code for code, _label in settings.LANGUAGES}:
        errors["language"] = [_("Choose Polish or English.")]
    if errors:
        raise ValidationError(errors)
    managers = [member for member in managers if member.partner_id == partner.pk and member.is_active]
    with transaction.atomic():
        _one_creation_at_a_time()
        tenant = create_tenant(name=name, slug=slug, language=language)
        start_trial(tenant=tenant)
        with tenant_context(tenant), translation.override(language):
            set_up_crm()
            invitations.invite(email=owner_email, role=Role.objects.get(code="administrator"), invited_by=None,
                               scheme=scheme, port=str(port) if port else None, as_owner=True,
                               invited_by_name=partner.name)
        link_client_portal(partner=partner, tenant=tenant)
        granted = _grant(tenant, managers)
        audit.record(action="partner.client_created", tenant=tenant, actor=by.user, actor_kind=PARTNER,
                     partner=partner, owner_email=owner_email.strip().lower(), access=granted)
    log.info("partner.client_created", partner=partner.slug, schema=tenant.schema_name)
    return tenant


def set_client_access(*, by: PartnerMember, tenant: Tenant, member: PartnerMember, access: bool) -> None:
    """A partner administrator chooses which of the partner's people may enter a client portal."""
    _require_admin(by)
    if selectors.client_of(by.partner, tenant.pk) is None or member.partner_id != by.partner_id:
        raise PermissionError("not this partner's client or member")
    with transaction.atomic():
        if access:
            if not member.is_active:
                raise ValidationError({"member": _("This person no longer works for the partner.")})
            _grant(tenant, [member])
        else:
            with tenant_context(tenant):
                revoke_partner_access(users=[member.user])
        audit.record(action="partner.access_granted" if access else "partner.access_removed", tenant=tenant,
                     actor=by.user, actor_kind=PARTNER, partner=by.partner, email=member.user.email)


def ask_to_link(*, by: PartnerMember, address: str, message: str = "", scheme: str,
                port: str | int | None = None) -> None:
    """Ask an existing portal's administrators to become its partner.

    Returns nothing and behaves the same for any address: whether a portal exists there, is
    already a client or was asked before shows nowhere on the partner's side.
    """
    _require_admin(by)
    partner = by.partner
    tenant = selectors.portal_by_address(address)
    if tenant is None or tenant.partner_id == partner.pk:
        return
    recent = PartnerLinkRequest.objects.filter(partner=partner, tenant=tenant).filter(
        state=PartnerLinkRequest.State.PENDING).exists() or PartnerLinkRequest.objects.filter(
        partner=partner, tenant=tenant, state=PartnerLinkRequest.State.DECLINED,
        decided_at__gt=timezone.now() - ASK_AGAIN_AFTER).exists()
    if recent:
        return
    with transaction.atomic():
        link_request = PartnerLinkRequest.objects.create(partner=partner, tenant=tenant, requested_by=by.user,
                                                         message=(message or "").strip()[:500])
        audit.record(action="partner.link_requested", tenant=tenant, actor=by.user, actor_kind=PARTNER,
                     partner=partner)
        page = _portal_page(tenant, scheme=scheme, port=port)
        transaction.on_commit(lambda: _send_link_request(link_request, page))


def _portal_page(tenant: Tenant, *, scheme: str, port) -> str:
    from tenants.selectors import portal_address

    return portal_address(tenant.slug, scheme=scheme, port=port, path="/settings/partner/")


def _send_link_request(link_request: PartnerLinkRequest, page: str) -> None:
    tenant, partner = link_request.tenant, link_request.partner
    with translation.override(tenant.language or "pl"):
        values = {"partner": partner.name, "portal": tenant.name, "page": page,
                  "message": link_request.message or "—"}
        _mail(selectors.portal_admin_emails(tenant),
              _("%(partner)s asks to manage %(portal)s as your partner") % values,
              _("Hello,\n\n%(partner)s asks to become the partner of the %(portal)s portal. A partner's people "
                "get administrator access to the portal, and you can revoke it at any time.\n\n"
                "Their message: %(message)s\n\nApprove or decline here:\n%(page)s\n\n"
                "If you do not know %(partner)s, decline.\n") % values)


# --- The client's decisions (on the client portal, by its own administrators) ---------------------

def approve_link_request(*, link_request: PartnerLinkRequest, decided_by: Membership) -> Tenant:
    """Link the portal to the partner and give access to the person who asked and the partner's admins."""
    tenant, partner = link_request.tenant, link_request.partner
    with transaction.atomic():
        locked = _locked_pending(link_request)
        tenant = link_client_portal(partner=partner, tenant=tenant)
        managers = PartnerMember.objects.select_related("user").filter(partner=partner, is_active=True).filter(
            Q(role=PartnerMember.Role.ADMIN) | Q(user_id=locked.requested_by_id))
        granted = _grant(tenant, managers)
        _decide(locked, PartnerLinkRequest.State.APPROVED, decided_by)
        audit.record(action="partner.link_approved", tenant=tenant, actor=decided_by.user, actor_kind=TENANT,
                     partner=partner, access=granted)
        transaction.on_commit(lambda: _tell_partner(partner, tenant, approved=True))
    return tenant


def decline_link_request(*, link_request: PartnerLinkRequest, decided_by: Membership) -> None:
    with transaction.atomic():
        locked = _locked_pending(link_request)
        _decide(locked, PartnerLinkRequest.State.DECLINED, decided_by)
        audit.record(action="partner.link_declined", tenant=locked.tenant, actor=decided_by.user,
                     actor_kind=TENANT, partner=locked.partner)
        transaction.on_commit(lambda: _tell_partner(locked.partner, locked.tenant, approved=False))


def _locked_pending(link_request: PartnerLinkRequest) -> PartnerLinkRequest:
    locked = (PartnerLinkRequest.objects.select_for_update(of=("self",)).select_related("tenant", "partner")
              .get(pk=link_request.pk))
    if locked.state != PartnerLinkRequest.State.PENDING:
        raise ValidationError({"request": _("This request has already been answered.")})
    return locked


def _decide(link_request: PartnerLinkRequest, state: str, decided_by: Membership) -> None:
    link_request.state, link_request.decided_by, link_request.decided_at = state, decided_by.user, timezone.now()
    link_request.save(update_fields=["state", "decided_by", "decided_at"])


def _tell_partner(partner: Partner, tenant: Tenant, *, approved: bool) -> None:
    values = {"partner": partner.name, "portal": tenant.name}
    if approved:
        subject = _("%(portal)s approved %(partner)s as its partner") % values
        body = _("Hello,\n\nthe administrators of %(portal)s approved %(partner)s as its partner. The portal is "
                 "now among your clients.\n") % values
    else:
        subject = _("%(portal)s declined the request of %(partner)s") % values
        body = _("Hello,\n\nthe administrators of %(portal)s declined to make %(partner)s its partner.\n") % values
    _mail(selectors.partner_admin_emails(partner), subject, body)


def revoke_person(*, tenant: Tenant, membership: Membership, decided_by: Membership) -> None:
    """The client ends one partner person's access; the portal stays the partner's client."""
    if not membership.is_partner_access:
        raise ValidationError({"membership": _("This person is your own member, not the partner's.")})
    with transaction.atomic(), tenant_context(tenant):
        revoke_partner_access(users=[membership.user])
        audit.record(action="partner.access_revoked", tenant=tenant, actor=decided_by.user, actor_kind=TENANT,
                     partner=tenant.partner, email=membership.user.email)


def end_partnership(*, tenant: Tenant, decided_by: Membership) -> None:
    """The client revokes the partner: every partner access ends and the portal leaves the partner.

    Billing moves a partner-paid portal back to paying for itself in the same transaction
    (tenants.signals.client_portal_unlinking); nothing in the portal is deleted.
    """
    partner = Tenant.objects.select_related("partner").get(pk=tenant.pk).partner
    if partner is None:
        raise ValidationError({"partner": _("This portal has no partner.")})
    with transaction.atomic():
        with tenant_context(tenant):
            revoked = revoke_partner_access()
        unlink_client_portal(tenant=tenant)
        PartnerLinkRequest.objects.filter(tenant=tenant, partner=partner,
                                          state=PartnerLinkRequest.State.PENDING).update(
            state=PartnerLinkRequest.State.WITHDRAWN)
        audit.record(action="partner.unlinked", tenant=tenant, actor=decided_by.user, actor_kind=TENANT,
                     partner=partner, revoked=[membership.user.email for membership in revoked])
        transaction.on_commit(lambda: _tell_partner_revoked(partner, tenant))


def _tell_partner_revoked(partner: Partner, tenant: Tenant) -> None:
    values = {"partner": partner.name, "portal": tenant.name}
    _mail(selectors.partner_admin_emails(partner), _("%(portal)s ended its partnership with %(partner)s") % values,
          _("Hello,\n\nthe administrators of %(portal)s revoked the access of %(partner)s. The portal is no longer "
            "among your clients and your people can no longer sign in to it.\n") % values)
