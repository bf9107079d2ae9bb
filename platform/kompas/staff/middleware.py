"""Staff access to a portal (impersonation) on the portal's own host: read-only, time-boxed, visible.

While a session carries an impersonation, every request checks it is still running (one query by
primary key): ended by staff, by a portal administrator or by its clock, the session is closed at
once and the staff member goes back to the console. Writes are refused: staff see the portal as
the member sees it, and nothing they do can be mistaken for the member's own work
(docs/decisions/0021-staff-console.md).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.utils import timezone

SESSION_KEY = "kompas_impersonation"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Writes allowed while impersonating: ending it, logging out (which ends it too), the language.
WRITABLE = ("/staff-access/end/", "/auth/logout/", "/i18n/")


def host_url(request: HttpRequest, host: str, path: str) -> str:
    """``path`` on another host of the platform, with this request's scheme and port."""
    scheme = "https" if request.is_secure() else "http"
    port = request.get_port()
    suffix = f":{port}" if port and str(port) not in ("80", "443") else ""
    return f"{scheme}://{host}{suffix}{path}"


def console_url(request: HttpRequest, tenant_pk: int | None = None) -> str:
    """The staff console on the public host."""
    return host_url(request, settings.BASE_DOMAIN, f"/staff/tenants/{tenant_pk}/" if tenant_pk else "/staff/")


class ImpersonationMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.impersonation = None
        tenant = getattr(request, "tenant", None)
        # Only sessions that exist can carry one: looking costs nothing for anonymous visitors
        # (and adds no Vary: Cookie to their pages).
        if tenant is None or tenant.is_public or settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return self.get_response(request)
        impersonation_pk = request.session.get(SESSION_KEY)
        if impersonation_pk is None:
            return self.get_response(request)
        return self._impersonating(request, tenant, impersonation_pk)

    def _impersonating(self, request: HttpRequest, tenant, impersonation_pk: int) -> HttpResponse:
        from kompas.staff import selectors, services

        impersonation = selectors.active_impersonation(impersonation_pk, tenant)
        if impersonation is None or impersonation.ended_at is not None or timezone.now() >= impersonation.expires_at:
            if impersonation is not None and impersonation.ended_at is None:
                services.end_impersonation(impersonation=impersonation, ended_by="expiry")
            logout(request)
            return HttpResponseRedirect(console_url(request, tenant.pk))
        request.impersonation = impersonation
        if request.method == "POST" and request.path.startswith("/auth/logout/"):
            services.end_impersonation(impersonation=impersonation, ended_by="logout", ip=_ip(request))
            logout(request)
            return HttpResponseRedirect(console_url(request, tenant.pk))
        if request.method not in SAFE_METHODS and not request.path.startswith(WRITABLE):
            return _read_only(request)
        return self.get_response(request)


def _ip(request: HttpRequest) -> str | None:
    from identity.members.security import client_ip

    return client_ip(request)


def _read_only(request: HttpRequest) -> HttpResponse:
    from django.utils.translation import gettext as _

    message = _("Staff access is read-only: nothing can be changed in the portal while you view it as a member.")
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"error": {"code": "staff_access_read_only", "message": message, "fields": {}},
                             "detail": message}, status=403)
    body = render_to_string("staff/read_only.html", {"message": message}, request=request)
    return HttpResponse(body, status=403)
