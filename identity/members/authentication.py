"""API authentication: a portal's API key, or the browser session of a member.

The key is looked up in the schema of the host the request came to, so a key of portal A is
unknown on portal B whatever it claims. API access is a plan feature (billing).
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from billing import limits
from billing.models import Feature
from identity.members.models import ApiKey
from identity.members.selectors import api_key_for_token, membership_of
from identity.members.services import touch_api_key


class ApiKeyUser:
    """What ``request.user`` is for a call made with a key: authenticated, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.pk = None

    def __str__(self) -> str:
        return f"API key {self.key.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header.startswith(f"{self.keyword} kp_"):
            return None  # not ours: let session authentication try
        tenant = getattr(request._request, "tenant", None)
        if tenant is None or tenant.is_public:
            raise exceptions.AuthenticationFailed(_("API keys work only on a portal's own address."))
        key = api_key_for_token(header[len(self.keyword) + 1:].strip())
        if key is None:
            raise exceptions.AuthenticationFailed(_("This API key is not valid for this portal, or it was revoked."))
        if not limits.has_feature(tenant, Feature.API_ACCESS):
            raise exceptions.PermissionDenied(_("API access is not included in this portal's plan. An administrator "
                                                "can choose a plan that includes it in Settings → Billing."))
        touch_api_key(key=key)
        request._request.member = key
        return ApiKeyUser(key), key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


def principal_of(request: Request):
    """The key or the membership a call acts as; the permission layer takes either."""
    if isinstance(request.auth, ApiKey):
        return request.auth
    return membership_of(request.user) if request.user.is_authenticated else None
