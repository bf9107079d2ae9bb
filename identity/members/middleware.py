"""Puts the signed-in person's membership of this portal on the request as ``request.member``.

Lower layers (billing) read ``request.member`` instead of importing identity, which keeps the
imports pointing one way (DESIGN.md). It is lazy: a request that never asks pays nothing (no
session or user load, no ``Vary: Cookie``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from identity.members.selectors import membership_of


@dataclass(frozen=True)
class NoMembership:
    """Stands in for a membership when there is none (anonymous, public site, not a member)."""

    is_active: bool = False
    is_admin: bool = False
    is_owner: bool = False
    has_admin_rights: bool = False

    def __bool__(self) -> bool:
        return False


NO_MEMBERSHIP = NoMembership()


def _membership_for(request: HttpRequest):
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.is_public or not request.user.is_authenticated:
        return NO_MEMBERSHIP
    from django.db import connection

    cached = getattr(request.user, "portal_membership", None)
    if cached is not None and cached[0] == connection.schema_name:
        return cached[1]
    return membership_of(request.user) or NO_MEMBERSHIP


class MemberMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.member = SimpleLazyObject(lambda: _membership_for(request))
        return self.get_response(request)
