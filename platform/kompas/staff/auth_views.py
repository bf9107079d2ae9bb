"""Signing in on the public host (platform staff, partner members) and the staff's two-factor rule.

The accounts are the global ones, and the two-factor devices are identity's (django-otp): one
authenticator app serves the portals and the public host alike. What may sign in here is
identity's backend rule for the public schema. Lockouts are counted in the cache here, because
identity's login history lives in each portal's schema and the public schema has none.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from django.contrib import messages
from django.contrib.auth import login, logout
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from identity.accounts.models import User
from identity.members import security
from kompas.staff.forms import CodeForm, PublicLoginForm
from tenants import audit
from tenants.models import AuditEvent

PENDING = "kompas_public_two_factor_pending"
PENDING_SECONDS = 300
BACKEND = "identity.members.backends.PortalMemberBackend"
LOCK_THRESHOLD = 5
LOCK_MINUTES = 15
# Staff sessions are short: the console can suspend portals and enter them.
STAFF_SESSION_SECONDS = 12 * 60 * 60
ENROLMENT_DEVICE = "kompas_staff_enrolment_device"


def _public_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """These pages exist on the public host only; on a portal host they are not found (spoofed Host too)."""

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if tenant is None or not tenant.is_public:
            raise Http404
        return view(request, *args, **kwargs)

    return guarded


def safe_next(request: HttpRequest, candidate: str | None, default: str = "/") -> str:
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                     require_https=request.is_secure()):
        return candidate
    return default


# --- Lockout (per address as typed, whether an account exists or not) ----------------------------

def _lock_key(email: str) -> str:
    return "public-login-lock:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def locked_until(email: str):
    state = cache.get(_lock_key(email)) or {}
    until = state.get("until")
    if until and until > time.time():
        return timezone.now() + timedelta(seconds=until - time.time())
    return None


def _count_failure(email: str) -> None:
    key = _lock_key(email)
    state = cache.get(key) or {"count": 0}
    state["count"] += 1
    if state["count"] >= LOCK_THRESHOLD:
        state = {"count": 0, "until": time.time() + LOCK_MINUTES * 60}
    cache.set(key, state, LOCK_MINUTES * 60)


def _clear_failures(email: str) -> None:
    cache.delete(_lock_key(email))


# --- Sign-in -----------------------------------------------------------------------------------------

def _finish(request: HttpRequest, user: User, next_url: str, device=None) -> HttpResponse:
    login(request, user, backend=BACKEND)
    if device is not None:
        otp_login(request, device)
    _clear_failures(user.email)
    if user.is_staff:
        request.session.set_expiry(STAFF_SESSION_SECONDS)
        audit.record(action="staff.signed_in", actor=user, actor_kind=AuditEvent.ActorKind.STAFF,
                     ip=security.client_ip(request), two_factor=device is not None)
    return redirect(next_url)


@_public_only
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.user.is_authenticated and request.method == "GET":
        return redirect(next_url)
    form = PublicLoginForm(request, data=request.POST or None)
    if request.method == "POST":
        email = (request.POST.get("username") or "").strip().lower()
        until = locked_until(email) if email else None
        if until is not None:
            form.errors.clear()
            form.add_error(None, _lock_message(until))
        elif form.is_valid():
            user = form.get_user()
            if security.has_two_factor(user):
                request.session[PENDING] = {"user": user.pk, "at": time.time(), "next": next_url}
                return redirect("public_login_two_factor")
            return _finish(request, user, next_url)
        elif email:
            _count_failure(email)
    return render(request, "staff/login.html", {"form": form, "next": next_url},
                  status=400 if request.method == "POST" else 200)


def _lock_message(until) -> str:
    minutes = max(1, round((until - timezone.now()).total_seconds() / 60))
    return _("Too many failed sign-in attempts for this address. Try again in %(minutes)s minutes.") % {
        "minutes": minutes}


@_public_only
def two_factor_step(request: HttpRequest) -> HttpResponse:
    """The code after the password; also how a signed-in staff member without a verified session verifies."""
    pending = request.session.get(PENDING)
    if request.user.is_authenticated and not request.user.is_verified() and security.has_two_factor(request.user):
        user, next_url = request.user, safe_next(request, request.GET.get("next"), "/staff/")
    elif pending and time.time() - pending["at"] <= PENDING_SECONDS:
        user, next_url = User.objects.filter(pk=pending["user"], is_active=True).first(), pending["next"]
    else:
        request.session.pop(PENDING, None)
        messages.error(request, _("Please sign in again: the two-factor step took too long."))
        return redirect("public_login")
    if user is None:
        return redirect("public_login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        until = locked_until(user.email)
        if until is not None:
            form.add_error("code", _lock_message(until))
        elif (device := security.verify_second_factor(user, form.cleaned_data["code"])) is not None:
            request.session.pop(PENDING, None)
            if request.user.is_authenticated:
                otp_login(request, device)
                return redirect(next_url)
            return _finish(request, user, next_url, device)
        else:
            _count_failure(user.email)
            form.add_error("code", _("This code is not valid. Codes from the app change every 30 seconds; a "
                                     "recovery code works only once."))
    return render(request, "members/two_factor.html", {"form": form}, status=400 if request.method == "POST" else 200)


@_public_only
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("public_login")


# --- The staff rule: platform staff, with two-factor authentication, verified in this session ----------

def _forbidden(request: HttpRequest, reason: str) -> HttpResponse:
    return HttpResponseForbidden(render_to_string("staff/forbidden.html", {"reason": reason}, request=request))


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Staff console pages: public host only, platform staff only, 2FA set up and verified in this session."""

    @wraps(view)
    @_public_only
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect(f"/login/?{urlencode({'next': request.get_full_path()})}")
        if not user.is_staff:
            return _forbidden(request, _("The staff console is for the platform's own staff only. Your account "
                                         "is not platform staff."))
        if not security.has_two_factor(user):
            return redirect("staff:two-factor-setup")
        if not user.is_verified():
            return redirect(f"/login/two-factor/?{urlencode({'next': request.get_full_path()})}")
        return view(request, *args, **kwargs)

    return guarded


@_public_only
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Staff without an authenticator set one up before anything else (identity's enrolment)."""
    user = request.user
    if not user.is_authenticated:
        return redirect(f"/login/?{urlencode({'next': request.get_full_path()})}")
    if not user.is_staff:
        return _forbidden(request, _("The staff console is for the platform's own staff only. Your account "
                                     "is not platform staff."))
    if security.has_two_factor(user) and not user.is_verified():
        # Replacing an authenticator needs the current one: a password alone must not do it.
        return redirect(f"/login/two-factor/?{urlencode({'next': request.get_full_path()})}")
    device = security.TOTPDevice.objects.filter(pk=request.session.get(ENROLMENT_DEVICE), user=user,
                                                confirmed=False).first()
    if device is None or (request.method == "GET" and request.GET.get("restart")):
        device = security.start_enrolment(user)
        request.session[ENROLMENT_DEVICE] = device.pk
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = security.confirm_enrolment(user=user, device=device, code=form.cleaned_data["code"])
        if codes is not None:
            request.session.pop(ENROLMENT_DEVICE, None)
            otp_login(request, device)
            audit.record(action="staff.two_factor_enrolled", actor=user, actor_kind=AuditEvent.ActorKind.STAFF,
                         ip=security.client_ip(request))
            return render(request, "staff/recovery_codes.html", {"codes": codes})
        form.add_error("code", _("This code does not match. Check the time on your phone and type the code "
                                 "the app shows now."))
    import base64

    return render(request, "members/two_factor_setup.html", {
        "form": form, "qr": security.qr_svg(device), "secret": base64.b32encode(device.bin_key).decode().rstrip("="),
        "already": security.has_two_factor(user),
        "reminder": _("The staff console requires two-factor authentication. Set it up to continue."),
    }, status=400 if request.method == "POST" else 200)
