"""Inviting people by e-mail: the invitation holds a seat until it is accepted, revoked or expires."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from billing import limits
from billing.models import Resource
from identity.accounts.models import User
from identity.accounts.services import get_or_create_account
from identity.members.models import Department, Invitation, Membership, Role
from identity.members.services import add_member, add_owner, assign
from identity.members.tokens import new_token, token_hash
from tenants.selectors import portal_address

INVITATION_DAYS = 7


def pending_invitations():
    return Invitation.objects.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())


def invitation_url(token: str, *, scheme: str, port: str | None = None) -> str:
    return portal_address(connection.tenant.slug, scheme=scheme, port=port, path=f"/auth/invitation/{token}/")


def invite(*, email: str, role: Role, invited_by: Membership | None, department: Department | None = None,
           scheme: str = "https", port: str | None = None, as_owner: bool = False,
           invited_by_name: str = "") -> Invitation:
    """Invite someone; refused with the limit named when the plan has no free seat.

    ``as_owner``: the person becomes the portal's owner on accepting (a partner created the portal
    for them); ``invited_by_name`` names the inviter when it is not one of the portal's members.
    """
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid e-mail address.")}) from None
    if Membership.objects.filter(user__email__iexact=email, is_active=True).exists():
        raise ValidationError({"email": _("This person is already a member of this portal.")})
    if pending_invitations().filter(email__iexact=email).exists():
        raise ValidationError({"email": _("This person has already been invited; the invitation is still "
                                          "valid. Revoke it first to send a new one.")})
    token = new_token()
    with transaction.atomic(), limits.admit(connection.tenant, Resource.SEATS):
        invitation = Invitation.objects.create(
            email=email, role=role, department=department, invited_by=invited_by, token_hash=token_hash(token),
            expires_at=timezone.now() + timedelta(days=INVITATION_DAYS), as_owner=as_owner)
        link = invitation_url(token, scheme=scheme, port=port)
        # The portal is captured now: the commit may come after the caller has left the portal's schema.
        tenant = connection.tenant
        transaction.on_commit(lambda: _send_invitation(invitation, link, tenant=tenant, inviter_name=invited_by_name))
    return invitation


def _send_invitation(invitation: Invitation, link: str, *, tenant, inviter_name: str = "") -> None:
    inviter = inviter_name or (invitation.invited_by.user.get_full_name() if invitation.invited_by else tenant.name)
    with translation.override(tenant.language or "pl"):
        if invitation.as_owner:
            subject, body = _owner_invitation_text(inviter=inviter, portal=tenant.name, link=link)
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])
            return
        subject = _("%(inviter)s invites you to %(portal)s on Kompas") % {"inviter": inviter, "portal": tenant.name}
        body = _("Hello,\n\n%(inviter)s invites you to work together in the %(portal)s portal.\n\n"
                 "Accept the invitation here (the link is valid for %(days)s days):\n%(link)s\n\n"
                 "If you did not expect this e-mail, you can ignore it.\n") % {
            "inviter": inviter, "portal": tenant.name, "days": INVITATION_DAYS, "link": link}
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [invitation.email])


def _owner_invitation_text(*, inviter: str, portal: str, link: str) -> tuple[str, str]:
    subject = _("%(inviter)s has created the %(portal)s portal for you on Kompas") % {
        "inviter": inviter, "portal": portal}
    body = _("Hello,\n\n%(inviter)s has created the %(portal)s portal for you. Accept the invitation to become "
             "its owner (the link is valid for %(days)s days):\n%(link)s\n\n"
             "As the owner you decide who works in the portal, including %(inviter)s: you can revoke their "
             "access at any time in Settings → Partner.\n\n"
             "If you did not expect this e-mail, you can ignore it.\n") % {
        "inviter": inviter, "portal": portal, "days": INVITATION_DAYS, "link": link}
    return subject, body


def invitation_for_token(token: str) -> Invitation | None:
    return pending_invitations().select_related("role", "department").filter(token_hash=token_hash(token)).first()


def accept(*, invitation: Invitation, user: User) -> Membership:
    """The invited person joins with the role (and department) chosen by the inviter."""
    if user.email.lower() != invitation.email.lower():
        raise ValidationError({"email": _("This invitation was sent to another e-mail address.")})
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.accepted_at or locked.revoked_at or locked.expires_at <= timezone.now():
            raise ValidationError({"invitation": _("This invitation is no longer valid.")})
        locked.accepted_at = timezone.now()  # frees its seat for the membership that takes it
        locked.save(update_fields=["accepted_at"])
        if locked.as_owner:
            return add_owner(user=user)
        membership = add_member(user=user)
        assign(membership=membership, role=locked.role, department=locked.department)
    return membership


def accept_as_new_account(*, invitation: Invitation, full_name: str, password: str) -> Membership:
    from django.contrib.auth.password_validation import validate_password

    if User.objects.filter(email__iexact=invitation.email).exists():
        raise ValidationError({"email": _("An account with this e-mail address exists; log in to accept.")})
    if not (full_name or "").strip():
        raise ValidationError({"full_name": _("Please enter your name.")})
    try:
        validate_password(password, User(email=invitation.email, full_name=full_name))
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None
    with transaction.atomic():
        user, _created = get_or_create_account(email=invitation.email, full_name=full_name, password=password)
        return accept(invitation=invitation, user=user)


def revoke(*, invitation: Invitation) -> Invitation:
    if invitation.revoked_at is None and invitation.accepted_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation
