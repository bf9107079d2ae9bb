"""Guards for the portal's settings pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.template.loader import render_to_string

from identity.members.selectors import membership_of


def portal_admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in and an administrator of this portal; the membership is ``request.admin_member``."""

    @wraps(view)
    @login_required
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        member = membership_of(request.user)
        if member is None or not member.has_admin_rights:
            return HttpResponseForbidden(render_to_string("members/forbidden.html", request=request))
        request.admin_member = member
        return view(request, *args, **kwargs)

    return guarded
