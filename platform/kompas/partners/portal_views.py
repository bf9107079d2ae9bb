"""Settings → Partner on a client portal: the client's own administrators decide about partners.

The partner's people have administrator rights in the portal, but not here: the client decides
who manages it, so only administrators who are the client's own members may approve, decline or
revoke. Everything is looked up within the portal the request's host routed to.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from identity.members.models import Membership
from identity.members.selectors import membership_of
from kompas.partners import selectors, services
from tenants.models import Tenant


def client_admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    @login_required
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        member = membership_of(request.user)
        if member is None or not member.has_admin_rights or member.is_partner_access:
            return render(request, "partners/portal_forbidden.html", status=403)
        request.admin_member = member
        return view(request, *args, **kwargs)

    return guarded


@client_admin_required
def partner_settings(request: HttpRequest) -> HttpResponse:
    tenant = Tenant.objects.select_related("partner").get(pk=request.tenant.pk)
    return render(request, "partners/portal_partner.html", {
        "partner": tenant.partner,
        "people": selectors.partner_access_memberships(),
        "requests": selectors.pending_requests_for(tenant),
    })


@client_admin_required
@require_POST
def decide(request: HttpRequest, request_id: int) -> HttpResponse:
    link_request = selectors.request_for(request.tenant, request_id)
    if link_request is None:
        raise Http404
    try:
        if request.POST.get("decision") == "approve":
            services.approve_link_request(link_request=link_request, decided_by=request.admin_member)
            messages.success(request, _("%(partner)s is now your partner and can manage the portal.")
                             % {"partner": link_request.partner.name})
        else:
            services.decline_link_request(link_request=link_request, decided_by=request.admin_member)
            messages.success(request, _("The request of %(partner)s was declined.")
                             % {"partner": link_request.partner.name})
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("partner-settings:page")


@client_admin_required
@require_POST
def revoke_person(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = Membership.objects.select_related("user").filter(
        pk=membership_id, is_partner_access=True, is_active=True).first()
    if membership is None:
        raise Http404
    services.revoke_person(tenant=request.tenant, membership=membership, decided_by=request.admin_member)
    messages.success(request, _("%(name)s can no longer sign in to this portal.")
                     % {"name": membership.user.get_full_name()})
    return redirect("partner-settings:page")


@client_admin_required
@require_POST
def end_partnership(request: HttpRequest) -> HttpResponse:
    try:
        services.end_partnership(tenant=request.tenant, decided_by=request.admin_member)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The partner's access was revoked. The partner can no longer manage this "
                                    "portal."))
    return redirect("partner-settings:page")
