"""Asking to join a portal: confirm the address by e-mail, then an administrator decides.

The form answers the same for every address, and only a confirmed address reaches the
administrators. Approving someone who has no account yet sends them an invitation (which holds
a seat); someone with an account becomes a member at once (taking a seat).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from identity.accounts.models import User
from identity.members import invitations
from identity.members.models import JoinRequest, Membership, Role
from identity.members.services import add_member, assign
from identity.members.tokens import new_token, token_hash
from tenants.selectors import portal_address

Status = JoinRequest.Status
# Marked here, translated when sent, in the portal's language.
CONFIRM_SUBJECT = gettext_noop("Confirm your request to join %(portal)s")
CONFIRM_BODY = gettext_noop("Hello,\n\nto send your request to join %(portal)s to its administrators, confirm your "
                            "e-mail address here:\n%(link)s\n\nIf you did not ask, ignore this e-mail.\n")
APPROVED_SUBJECT = gettext_noop("You can now use %(portal)s")
APPROVED_BODY = gettext_noop("Hello,\n\nyour request was approved. Sign in here with your Kompas account:\n%(link)s\n")


def ask_to_join(*, email: str, full_name: str, message: str, scheme: str = "https", port: str | None = None) -> None:
    """Record the request and send the confirmation link; silent for members and repeats."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": _("Enter a valid e-mail address.")}) from None
    if not (full_name or "").strip():
        raise ValidationError({"full_name": _("Please enter your name.")})
    already = (Membership.objects.filter(user__email__iexact=email, is_active=True).exists()
               or JoinRequest.objects.filter(email=email, status__in=(Status.UNCONFIRMED, Status.PENDING)).exists())
    if already:
        return  # the page says the same, so nobody learns who is a member
    token = new_token()
    with transaction.atomic():
        JoinRequest.objects.create(email=email, full_name=full_name.strip(), message=(message or "").strip()[:500],
                                   token_hash=token_hash(token))
        link = portal_address(connection.tenant.slug, scheme=scheme, port=port, path=f"/auth/join/{token}/")
        transaction.on_commit(lambda: _send(email, CONFIRM_SUBJECT, CONFIRM_BODY, link=link))


def _send(email: str, subject: str, body: str, **values) -> None:
    tenant = connection.tenant
    with translation.override(tenant.language or "pl"):
        values["portal"] = tenant.name
        send_mail(_(subject) % values, _(body) % values, settings.DEFAULT_FROM_EMAIL, [email])


def confirm(token: str) -> JoinRequest | None:
    request = JoinRequest.objects.filter(token_hash=token_hash(token), status=Status.UNCONFIRMED).first()
    if request is not None:
        request.status = Status.PENDING
        request.save(update_fields=["status"])
    return request


def pending_requests():
    return JoinRequest.objects.filter(status=Status.PENDING)


def approve(*, join_request: JoinRequest, role: Role, decided_by: Membership, scheme: str = "https",
            port: str | None = None) -> None:
    """Accept: a member at once if the person has an account, otherwise an invitation."""
    with transaction.atomic():
        locked = JoinRequest.objects.select_for_update().get(pk=join_request.pk)
        if locked.status != Status.PENDING:
            raise ValidationError({"join_request": _("This request has already been decided.")})
        account = User.objects.filter(email__iexact=locked.email, is_active=True).first()
        if account is not None:
            assign(membership=add_member(user=account), role=role)
            link = portal_address(connection.tenant.slug, scheme=scheme, port=port, path="/auth/login/")
            transaction.on_commit(lambda: _send(locked.email, APPROVED_SUBJECT, APPROVED_BODY, link=link))
        else:
            invitations.invite(email=locked.email, role=role, invited_by=decided_by, scheme=scheme, port=port)
        locked.status, locked.decided_at, locked.decided_by = Status.APPROVED, timezone.now(), decided_by
        locked.save(update_fields=["status", "decided_at", "decided_by"])


def reject(*, join_request: JoinRequest, decided_by: Membership) -> None:
    JoinRequest.objects.filter(pk=join_request.pk, status=Status.PENDING).update(
        status=Status.REJECTED, decided_at=timezone.now(), decided_by=decided_by)
