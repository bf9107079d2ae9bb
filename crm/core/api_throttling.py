"""Who an API call acts as, and the API's rate limits (per API key or member, and per portal).

Kept apart from crm.core.api because REST_FRAMEWORK's DEFAULT_THROTTLE_CLASSES are imported
while DRF's APIView is being defined: this module must not import DRF's views.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.functional import SimpleLazyObject, empty
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from identity.members.authentication import principal_of
from identity.members.models import ApiKey, Membership

# --- Who is calling ---------------------------------------------------------------------------

def _unwrapped(value):
    if isinstance(value, SimpleLazyObject):
        if value._wrapped is empty:
            value._setup()
        return value._wrapped
    return value


def principal(request: Request):
    """The API key or the membership the call acts as (None for nobody).

    A session's membership is the one MemberMiddleware already loaded for this request, so the
    API does not read it a second time."""
    if isinstance(request.auth, ApiKey):
        return request.auth
    if not request.user or not request.user.is_authenticated:
        return None
    member = _unwrapped(getattr(request._request, "member", None))
    if isinstance(member, Membership):
        return member
    return principal_of(request)


def principal_label(actor) -> str:
    return f"key:{actor.pk}" if isinstance(actor, ApiKey) else f"member:{actor.pk}"


# --- Rate limits ------------------------------------------------------------------------------

class _PortalScopedThrottle(SimpleRateThrottle):
    """A rate read from Django settings at each request (tests override it) and a cache key that
    always carries the portal's schema."""

    setting = ""

    def get_rate(self) -> str | None:
        return getattr(settings, self.setting, None)

    def allow_request(self, request, view) -> bool:
        self.rate = self.get_rate()
        if not self.rate:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def identity(self, request) -> str | None:
        raise NotImplementedError

    def get_cache_key(self, request, view) -> str | None:
        tenant = getattr(request._request, "tenant", None)
        if tenant is None or getattr(tenant, "is_public", True):
            return None
        ident = self.identity(request)
        return throttle_cache_key(tenant.schema_name, ident) if ident else None


def throttle_cache_key(schema: str, ident: str) -> str:
    return f"api-throttle:{schema}:{ident}"


class KeyRateThrottle(_PortalScopedThrottle):
    """``API_RATE_PER_KEY`` for each API key, and for each member calling with their session."""

    setting = "API_RATE_PER_KEY"

    def identity(self, request) -> str | None:
        actor = principal(request)
        return principal_label(actor) if actor is not None else None


class PortalRateThrottle(_PortalScopedThrottle):
    """``API_RATE_PER_PORTAL`` for all calls to one portal together."""

    setting = "API_RATE_PER_PORTAL"

    def identity(self, request) -> str | None:
        return "portal"
