"""Staff access on the portal's own host: using the one-time entry link, ending it, and the list the
portal's administrators see (Settings → Staff access)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from identity.members.decorators import portal_admin_required
from identity.members.security import client_ip
from kompas.staff import selectors, services
from kompas.staff.middleware import SESSION_KEY, console_url
from tenants.models import Impersonation

BACKEND = "identity.members.backends.PortalMemberBackend"


def _portal_only(request: HttpRequest):
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.is_public:
        raise Http404
    return tenant


def enter(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows what the link does; POST uses it (a link previewer fetching it must not use it up)."""
    tenant = _portal_only(request)
    try:
        if request.method != "POST":
            services.usable_entry(token=token, tenant=tenant)
            return render(request, "staff/enter.html", {"token": token})
        impersonation = services.redeem_impersonation(token=token, tenant=tenant, ip=client_ip(request))
    except services.TokenRefused:
        return render(request, "staff/enter_refused.html", status=404)
    if request.user.is_authenticated:
        logout(request)  # whoever was signed in here in this browser, their session ends first
    login(request, impersonation.grant.as_user, backend=BACKEND)
    request.session[SESSION_KEY] = impersonation.pk
    request.session.set_expiry(impersonation.expires_at)
    return redirect("/")


@require_POST
def end(request: HttpRequest) -> HttpResponse:
    """"End now" in the banner: the session closes and the staff member goes back to the console."""
    tenant = _portal_only(request)
    impersonation = getattr(request, "impersonation", None)
    if impersonation is None:
        return redirect("/")
    services.end_impersonation(impersonation=impersonation, ended_by="staff", ip=client_ip(request))
    logout(request)
    return HttpResponseRedirect(console_url(request, tenant.pk))


@portal_admin_required
def staff_access(request: HttpRequest) -> HttpResponse:
    """Every time platform staff entered this portal: who, as whom, why, from when to when; end a running one."""
    tenant = _portal_only(request)
    if request.method == "POST":
        running = Impersonation.objects.filter(pk=request.POST.get("impersonation") or 0, tenant_id=tenant.pk,
                                               ended_at__isnull=True).first()
        if running is not None and getattr(request, "impersonation", None) is None:
            services.end_impersonation(impersonation=running, ended_by="portal_admin", actor=request.user,
                                       ip=client_ip(request))
            messages.success(request, _("The staff access was ended."))
        return redirect("staff_access:list")
    return render(request, "staff/staff_access.html", {
        "impersonations": selectors.impersonations_of(tenant)[:200]})
