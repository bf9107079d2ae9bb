"""Handing a signed-in person over from another host (the public site) to a portal's host.

Sessions are host-only (docs/decisions/0002), so the public site cannot sign anyone in to a
portal. Instead it issues a handover token: signed with SECRET_KEY, valid for HANDOVER_SECONDS,
naming the account, the portal's schema and the account's ``last_login`` at issue time. The
portal consumes it with a conditional update of ``last_login`` — only one request can move it
from the value in the token, so the token works once, and any sign-in in between voids it.

The handover never skips a rule of the portal: the person must be an active member, and an
account with two-factor authentication or outside the portal's IP allowlist is sent to the
normal login page instead.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.core import signing
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from identity.accounts.models import User
from identity.members import security
from identity.members.selectors import is_active_member, membership_of
from tenants.selectors import portal_address

HANDOVER_SECONDS = 120
_SALT = "kompas.members.handover"


def handover_token(*, user: User, tenant) -> str:
    stamp = user.last_login.isoformat() if user.last_login else None
    return signing.dumps({"u": user.pk, "t": tenant.schema_name, "l": stamp}, salt=_SALT)


def handover_url(*, user: User, tenant, scheme: str, port: str | int | None = None) -> str:
    """The portal's address that signs ``user`` in and opens the portal's home page."""
    token = handover_token(user=user, tenant=tenant)
    return portal_address(tenant.slug, scheme=scheme, port=port, path=f"/auth/handover/{token}/")


def consume(token: str, *, tenant) -> User | None:
    """The account the token hands over to this portal, once; None for a bad, old or used token."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=HANDOVER_SECONDS)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict) or data.get("t") != tenant.schema_name:
        return None
    accounts = User.objects.filter(pk=data.get("u"), is_active=True)
    stamp = data.get("l")
    try:
        accounts = (accounts.filter(last_login__isnull=True) if stamp is None
                    else accounts.filter(last_login=datetime.fromisoformat(stamp)))
    except (TypeError, ValueError):
        return None
    if accounts.update(last_login=timezone.now()) != 1:
        return None  # used already, or the person signed in somewhere since
    return User.objects.get(pk=data["u"])


@never_cache
@require_GET
def handover(request: HttpRequest, token: str) -> HttpResponse:
    from identity.members.views import _finish_login

    user = consume(token, tenant=connection.tenant)
    if user is None or not is_active_member(user):
        messages.info(request, _("This sign-in link has expired or has already been used. Please sign in."))
        return redirect("members:login")
    if security.has_two_factor(user) or not security.ip_allowed(membership_of(user), security.client_ip(request)):
        return redirect("members:login")  # the normal login asks for what the portal requires
    return _finish_login(request, user, "/")
