"""Authentication that respects portals: an account signs in only where it is a member."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.http import HttpRequest

from identity.accounts.models import User
from identity.members.models import Membership
from identity.members.selectors import is_active_member
from tenants.models import PartnerMember


class PortalMemberBackend(ModelBackend):
    """On a portal host: active members only. On the public site: platform staff and partner members.

    ``get_user`` applies the same rule, so a session is worth nothing on another portal and a
    membership that is deactivated ends the person's sessions at their next request.
    """

    def user_can_authenticate(self, user: User) -> bool:
        return super().user_can_authenticate(user) and _may_enter_current_schema(user)

    def get_user(self, user_id: int) -> User | None:
        """The signed-in person of a request; their membership is read once here and kept on this
        request's user object, so the middlewares after authentication do not read it again."""
        if connection.schema_name == "public":
            user = User._default_manager.filter(pk=user_id, is_active=True).first()
            return user if user is not None and _may_enter_public_site(user) else None
        # One query for the account and the membership (the account table is in public, on the path).
        membership = (Membership.objects.select_related("user", "role", "department")
                      .filter(user_id=user_id, user__is_active=True, is_active=True).first())
        if membership is None:
            return None
        user = membership.user
        user.portal_membership = (connection.schema_name, membership)
        return user

    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs) -> User | None:
        if username:
            username = username.strip().lower()
        return super().authenticate(request, username=username, password=password, **kwargs)


def _may_enter_current_schema(user: User) -> bool:
    if connection.schema_name == "public":
        return _may_enter_public_site(user)
    return is_active_member(user)


def _may_enter_public_site(user: User) -> bool:
    """Platform staff, and active members of a partner agency (the partner pages, kompas.partners).

    Pages on the public host check which of the two they are for; Django admin checks ``is_staff``.
    """
    return user.is_staff or PartnerMember.objects.filter(user_id=user.pk, is_active=True).exists()
