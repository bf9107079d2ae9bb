"""Authentication that respects portals: an account signs in only where it is a member."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.db import connection
from django.http import HttpRequest

from identity.accounts.models import User
from identity.members.selectors import is_active_member


class PortalMemberBackend(ModelBackend):
    """On a portal host: active members only. On the public site: platform staff only.

    ``get_user`` applies the same rule, so a session is worth nothing on another portal and a
    membership that is deactivated ends the person's sessions at their next request.
    """

    def user_can_authenticate(self, user: User) -> bool:
        return super().user_can_authenticate(user) and _may_enter_current_schema(user)

    def get_user(self, user_id: int) -> User | None:
        user = super().get_user(user_id)
        if user is None or not _may_enter_current_schema(user):
            return None
        return user

    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs) -> User | None:
        if username:
            username = username.strip().lower()
        return super().authenticate(request, username=username, password=password, **kwargs)


def _may_enter_current_schema(user: User) -> bool:
    if connection.schema_name == "public":
        return user.is_staff
    return is_active_member(user)
