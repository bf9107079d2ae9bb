"""What a portal's lifecycle state means for a request: read-only when suspended, cancelled or
scheduled for deletion, with a banner saying why and what to do; a banner when owing.

The moves between the states are in tenants.transitions (docs/decisions/0020-portal-lifecycle.md).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from tenants.models import AuditEvent, Tenant

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Days between a failed payment and read-only suspension; billing's dunning job uses the same.
PAYMENT_GRACE_DAYS = 7
# Cancelled portals: read-only, deleted when ``deletion_due_at`` passes unless reactivated.
ENDED = (Tenant.Status.CLOSED, Tenant.Status.DELETION_SCHEDULED)
READ_ONLY = (Tenant.Status.SUSPENDED, *ENDED)
# Paths a portal must still accept writes on while read-only: signing in and out, the language,
# and what gets it out of that state — paying, closing or exporting when suspended; reactivating
# or exporting when cancelled (kompas.portal.lifecycle_views).
WRITABLE_WHEN_SUSPENDED = ("/auth/", "/i18n/", "/settings/billing/", "/settings/portal/close/",
                           "/settings/portal/export/")
WRITABLE_WHEN_ENDED = ("/auth/", "/i18n/", "/settings/portal/reactivate/", "/settings/portal/export/")
# Audit details of a move billing made (tenants.services.set_status), as opposed to staff.
BILLING_SOURCE = "billing"


def is_read_only(tenant: Tenant | None) -> bool:
    return tenant is not None and not tenant.is_public and tenant.status in READ_ONLY


def writable_paths(tenant: Tenant) -> tuple[str, ...]:
    return WRITABLE_WHEN_ENDED if tenant.status in ENDED else WRITABLE_WHEN_SUSPENDED


def local_datetime(tenant: Tenant, value: datetime) -> str:
    """A date and time in the portal's time zone, formatted the way the active language writes it."""
    try:
        zone = zoneinfo.ZoneInfo(tenant.time_zone or "Europe/Warsaw")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("Europe/Warsaw")
    return formats.date_format(timezone.localtime(value, zone), "DATETIME_FORMAT")


def suspended_by_billing(tenant: Tenant) -> bool:
    """Whether the portal is suspended for non-payment (the default) rather than by the platform's staff."""
    latest = (AuditEvent.objects.filter(tenant_id=tenant.pk, action="portal.suspended")
              .order_by("-created_at", "-pk").values_list("details", flat=True).first())
    return latest is None or (latest or {}).get("source") == BILLING_SOURCE


def banner_for(tenant: Tenant | None) -> str | None:
    if tenant is None or tenant.is_public:
        return None
    if tenant.status == Tenant.Status.PAST_DUE:
        return _("The last payment for this portal failed. Please update the payment method in "
                 "Settings → Billing within %(days)s days, or the portal will become read-only.") % {
            "days": PAYMENT_GRACE_DAYS}
    if tenant.status == Tenant.Status.SUSPENDED:
        if suspended_by_billing(tenant):
            return _("This portal is read-only because its subscription is unpaid. An administrator can "
                     "restore full access at once by paying in Settings → Billing. No data has been deleted.")
        return _("This portal is read-only: the Kompas team has suspended it (reason: %(reason)s). No data has "
                 "been deleted. An administrator can contact Kompas support to restore full access, and can "
                 "download a full export in Settings → Portal.") % {"reason": tenant.status_reason or "—"}
    if tenant.status in ENDED:
        return _ended_banner(tenant)
    return None


def _ended_banner(tenant: Tenant) -> str:
    if tenant.deletion_due_at is None:  # not expected; never promise a date that is not set
        return _("This portal has been cancelled and is read-only. An administrator can reactivate it in "
                 "Settings → Portal, or download a full export there.")
    values = {"date": local_datetime(tenant, tenant.deletion_due_at), "reason": tenant.status_reason or "—"}
    if tenant.status == Tenant.Status.DELETION_SCHEDULED:
        return _("This portal is read-only and scheduled for deletion (reason: %(reason)s). All its data will be "
                 "deleted permanently on %(date)s. Until then an administrator can reactivate it in Settings → "
                 "Portal, or download a full export there.") % values
    return _("This portal has been cancelled and is read-only. All its data will be deleted permanently on "
             "%(date)s. Until then an administrator can reactivate it in Settings → Portal, or download a full "
             "export there.") % values


class ReadOnlyWhenSuspendedMiddleware:
    """A suspended or cancelled portal can be read and exported, but nothing in it can change
    except what gets it out of that state (``writable_paths``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if (is_read_only(tenant) and request.method not in SAFE_METHODS
                and not request.path.startswith(writable_paths(tenant))):
            message = banner_for(tenant)
            if request.path.startswith("/api/"):
                # The API's one error shape (crm.core.api), written here because tenants sits below the CRM.
                from django.http import JsonResponse

                return JsonResponse({"error": {"code": "portal_read_only", "message": str(message), "fields": {}},
                                     "detail": str(message)}, status=423)
            body = render_to_string("tenants/read_only.html", {"message": message}, request=request)
            return HttpResponse(body, status=423)
        return self.get_response(request)
