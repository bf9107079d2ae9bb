"""Settings → Login security: require 2FA with a deadline, unlock addresses, login history."""

from __future__ import annotations

import csv
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from identity.members import security
from identity.members.decorators import portal_admin_required
from identity.members.models import LoginEvent, SecurityPolicy

DEFAULT_GRACE_DAYS = 7


@portal_admin_required
def security_settings(request: HttpRequest) -> HttpResponse:
    policy = SecurityPolicy.current()
    if request.GET.get("export") == "csv":
        return _history_csv()
    if request.method == "POST":
        if request.POST.get("action") == "unlock":
            security.unlock(request, email=request.POST.get("email", ""))
            messages.success(request, _("The address was unlocked."))
        else:
            _save_policy(request, policy)
        return redirect("security:settings")
    grace = DEFAULT_GRACE_DAYS
    if policy.two_factor_deadline:
        grace = max(0, (policy.two_factor_deadline - timezone.now()).days)
    return render(request, "members/security_settings.html", {
        "policy": policy, "grace_days": grace, "locked": security.locked_addresses(),
        "events": LoginEvent.objects.all()[:100]})


def _save_policy(request: HttpRequest, policy: SecurityPolicy) -> None:
    try:
        grace_days = int(request.POST.get("grace_days") or DEFAULT_GRACE_DAYS)
    except ValueError:
        messages.error(request, _("Days to set it up: enter a whole number from 0 to 90."))
        return
    if not 0 <= grace_days <= 90:
        messages.error(request, _("Days to set it up: enter a whole number from 0 to 90."))
        return
    try:
        session_hours = int(request.POST.get("session_hours") or policy.session_hours)
        if not 1 <= session_hours <= 24 * 90:
            raise ValueError
    except ValueError:
        messages.error(request, _("Session time limit: enter a whole number of hours from 1 to 2160."))
        return
    allowlist = request.POST.get("ip_allowlist", policy.ip_allowlist)
    try:
        security.parse_allowlist(allowlist)
    except ValidationError as error:
        messages.error(request, _("Allowed IP addresses: %(reason)s") % {"reason": " ".join(error.messages)})
        return
    if allowlist.strip() and _would_lock_out_this_admin(request, allowlist):
        messages.error(request, _("Allowed IP addresses: your own address (%(ip)s) is not on the list, so you "
                                  "would lock yourself out. Add it first.") % {"ip": security.client_ip(request)})
        return
    required = request.POST.get("require_two_factor") == "on"
    policy.require_two_factor = required
    policy.two_factor_deadline = timezone.now() + timedelta(days=grace_days) if required else None
    policy.session_hours, policy.ip_allowlist = session_hours, allowlist
    policy.save(update_fields=["require_two_factor", "two_factor_deadline", "session_hours", "ip_allowlist"])
    messages.success(request, _("Two-factor authentication is now required.") if required
                     else _("Two-factor authentication is now optional."))


def _would_lock_out_this_admin(request: HttpRequest, allowlist: str) -> bool:
    import ipaddress

    ip = security.client_ip(request)
    networks = security.parse_allowlist(allowlist)
    return not ip or not any(ipaddress.ip_address(ip) in network for network in networks)


def _history_csv() -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="login-history.csv"'
    writer = csv.writer(response)
    writer.writerow(["time", "email", "outcome", "ip", "device"])
    for event in LoginEvent.objects.all().iterator():
        writer.writerow([event.created_at.isoformat(), event.email, event.outcome, event.ip or "", event.user_agent])
    return response
