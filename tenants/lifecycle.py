"""What a portal's lifecycle state means for a request: read-only when suspended, a banner when owing."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from tenants.models import Tenant

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Days between a failed payment and read-only suspension; billing's dunning job uses the same.
PAYMENT_GRACE_DAYS = 7
# Paths a suspended portal must still accept writes on, so that it can pay and sign in/out.
WRITABLE_WHEN_SUSPENDED = ("/auth/", "/i18n/", "/settings/billing/")


def banner_for(tenant: Tenant | None) -> str | None:
    if tenant is None or tenant.is_public:
        return None
    if tenant.status == Tenant.Status.PAST_DUE:
        return _("The last payment for this portal failed. Please update the payment method in "
                 "Settings → Billing within %(days)s days, or the portal will become read-only.") % {
            "days": PAYMENT_GRACE_DAYS}
    if tenant.status == Tenant.Status.SUSPENDED:
        return _("This portal is read-only because its subscription is unpaid. An administrator can "
                 "restore full access at once by paying in Settings → Billing. No data has been deleted.")
    return None


class ReadOnlyWhenSuspendedMiddleware:
    """A suspended portal can be read, exported and paid for, but nothing in it can change."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if (tenant is not None and tenant.status == Tenant.Status.SUSPENDED
                and request.method not in SAFE_METHODS and not request.path.startswith(WRITABLE_WHEN_SUSPENDED)):
            message = banner_for(tenant)
            if request.path.startswith("/api/"):
                # The API's one error shape (crm.core.api), written here because tenants sits below the CRM.
                from django.http import JsonResponse

                return JsonResponse({"error": {"code": "portal_read_only", "message": str(message), "fields": {}},
                                     "detail": str(message)}, status=423)
            body = render_to_string("tenants/read_only.html", {"message": message}, request=request)
            return HttpResponse(body, status=423)
        return self.get_response(request)
