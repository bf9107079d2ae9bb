"""Django admin for staff (/staff/admin/) under the same rule as the staff console: 2FA verified."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from identity.members import security


class StaffAdminSite(AdminSite):
    """Staff edit plans and partners here; a password alone must not be enough, as for the console."""

    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and request.user.is_verified()

    def login(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        # One sign-in page for the public host (password, then the code), instead of admin's own form.
        target = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        user = request.user
        if user.is_authenticated and user.is_staff and not security.has_two_factor(user):
            return redirect("staff:two-factor-setup")
        page = "/login/two-factor/" if user.is_authenticated and user.is_staff else "/login/"
        return redirect(f"{page}?{urlencode({'next': target})}")
