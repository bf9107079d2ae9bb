"""Signing in to a portal: password, then the second factor when the account has one."""

from __future__ import annotations

import time

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_otp import login as otp_login

from identity.accounts.models import User
from identity.members import security
from identity.members.forms import PortalLoginForm, PortalPasswordResetForm

PENDING = "kompas_two_factor_pending"
PENDING_SECONDS = 300
BACKEND = "identity.members.backends.PortalMemberBackend"


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                     require_https=request.is_secure()):
        return candidate
    return "/"


def _finish_login(request: HttpRequest, user: User, next_url: str, device=None) -> HttpResponse:
    login(request, user, backend=BACKEND)
    if device is not None:
        otp_login(request, device)
    security.remember_session(request, user)
    security.record(request, email=user.email, outcome=security.Outcome.SUCCESS, user=user)
    return redirect(next_url)


def _refused_by_ip(request: HttpRequest, user: User) -> str | None:
    from identity.members.selectors import membership_of

    ip = security.client_ip(request)
    if security.ip_allowed(membership_of(user), ip):
        return None
    security.record(request, email=user.email, outcome=security.Outcome.IP_REFUSED, user=user)
    return security.ip_refusal(ip)


class CodeForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("Code from your authenticator app, or a recovery code"),
                           max_length=20, widget=forms.TextInput(attrs={"autocomplete": "one-time-code",
                                                                        "inputmode": "numeric", "autofocus": True}))


def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_safe_next(request, request.GET.get("next")))
    form = PortalLoginForm(request, data=request.POST or None)
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if request.method == "POST":
        email = (request.POST.get("username") or "").strip().lower()
        until = security.locked_until(email) if email else None
        if until is not None:
            security.record(request, email=email, outcome=security.Outcome.LOCKED)
            form.errors.clear()
            form.add_error(None, security.lock_message(until))
        elif form.is_valid() and (refusal := _refused_by_ip(request, form.get_user())):
            form.add_error(None, refusal)
        elif form.is_valid():
            user = form.get_user()
            if security.has_two_factor(user):
                request.session[PENDING] = {"user": user.pk, "at": time.time(), "next": next_url}
                return redirect("members:two-factor")
            return _finish_login(request, user, next_url)
        elif email:
            security.record(request, email=email, outcome=security.Outcome.BAD_CREDENTIALS)
    return render(request, "members/login.html", {"form": form, "next": next_url},
                  status=400 if request.method == "POST" else 200)


def two_factor_step(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        messages.error(request, _("Please sign in again: the two-factor step took too long."))
        return redirect("members:login")
    user = User.objects.filter(pk=pending["user"], is_active=True).first()
    if user is None:
        return redirect("members:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        until = security.locked_until(user.email)
        if until is not None:
            security.record(request, email=user.email, outcome=security.Outcome.LOCKED, user=user)
            form.add_error("code", security.lock_message(until))
        else:
            device = security.verify_second_factor(user, form.cleaned_data["code"])
            if device is not None:
                request.session.pop(PENDING, None)
                return _finish_login(request, user, pending["next"], device)
            security.record(request, email=user.email, outcome=security.Outcome.BAD_CODE, user=user)
            form.add_error("code", _("This code is not valid. Codes from the app change every 30 seconds; a "
                                     "recovery code works only once."))
    return render(request, "members/two_factor.html", {"form": form},
                  status=400 if request.method == "POST" else 200)


@login_required
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    device_id = request.session.get("kompas_enrolment_device")
    device = security.TOTPDevice.objects.filter(pk=device_id, user=request.user, confirmed=False).first()
    if device is None or (request.method == "GET" and request.GET.get("restart")):
        device = security.start_enrolment(request.user)
        request.session["kompas_enrolment_device"] = device.pk
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = security.confirm_enrolment(user=request.user, device=device, code=form.cleaned_data["code"])
        if codes is not None:
            request.session.pop("kompas_enrolment_device", None)
            otp_login(request, device)
            return render(request, "members/recovery_codes.html", {"codes": codes})
        form.add_error("code", _("This code does not match. Check the time on your phone and type the code "
                                 "the app shows now."))
    return render(request, "members/two_factor_setup.html", {
        "form": form, "qr": security.qr_svg(device), "secret": _base32(device),
        "already": security.has_two_factor(request.user), "reminder": security.two_factor_reminder(request.user),
    }, status=400 if request.method == "POST" else 200)


def _base32(device) -> str:
    import base64

    return base64.b32encode(device.bin_key).decode().rstrip("=")


class PortalLogoutView(auth_views.LogoutView):
    pass


@login_required
def my_sessions(request: HttpRequest) -> HttpResponse:
    """The person's signed-in browsers in this portal, and "log out all other devices"."""
    from identity.members.models import MemberSession

    if request.method == "POST":
        ended = security.end_sessions(user_id=request.user.pk, keep=request.session.session_key)
        messages.success(request, _("Signed out on %(count)s other devices.") % {"count": ended})
        return redirect("members:sessions")
    return render(request, "members/sessions.html", {
        "sessions": MemberSession.objects.filter(user_id=request.user.pk), "current": request.session.session_key})


class PasswordResetView(auth_views.PasswordResetView):
    """The link is sent from this portal's address, in the portal's language."""

    form_class = PortalPasswordResetForm
    template_name = "members/password_reset.html"
    email_template_name = "members/email/password_reset.txt"
    subject_template_name = "members/email/password_reset_subject.txt"
    success_url = reverse_lazy("members:password-reset-sent")


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    template_name = "members/password_reset_sent.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "members/password_reset_confirm.html"
    success_url = reverse_lazy("members:password-reset-done")


class PasswordResetDoneView(auth_views.PasswordResetCompleteView):
    template_name = "members/password_reset_done.html"
