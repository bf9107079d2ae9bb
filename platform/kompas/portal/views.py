from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from identity.members.security import two_factor_reminder
from identity.members.selectors import active_members, membership_of


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html", {
        "membership": membership_of(request.user),
        "members": active_members()[:20],
        "two_factor_reminder": two_factor_reminder(request.user),
    })
