"""Login security of a portal: lockouts, login history, two-factor authentication and its enforcement.

Two-factor devices (django-otp) belong to the global account, so one authenticator app serves
every portal; whether a portal *requires* them, and the lockout counters, belong to the portal.
Locks are kept per e-mail address as typed, whether an account exists or not, so a lock
message never tells anyone that an address has an account.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import segno
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp import match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from identity.accounts.models import User
from identity.members.models import LoginEvent, SecurityPolicy

RECOVERY_CODE_COUNT = 10
Outcome = LoginEvent.Outcome
FAILURES = (Outcome.BAD_CREDENTIALS, Outcome.BAD_CODE)


def client_ip(request: HttpRequest) -> str | None:
    # Behind the ingress the client is the first X-Forwarded-For hop; the proxy is trusted
    # because SECURE_PROXY_SSL_HEADER already is.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return forwarded.split(",")[0].strip() or request.META.get("REMOTE_ADDR") or None


def record(request: HttpRequest, *, email: str, outcome: str, user: User | None = None) -> LoginEvent:
    return LoginEvent.objects.create(email=email.strip().lower()[:254], outcome=outcome,
                                     user_id=user.pk if user else None, ip=client_ip(request),
                                     user_agent=request.META.get("HTTP_USER_AGENT", "")[:300])


def locked_until(email: str, *, now=None) -> timezone.datetime | None:
    """When the lock on this address ends, or None if it is not locked.

    Failures count since the last success or unlock, within the lock window.
    """
    policy, now = SecurityPolicy.current(), now or timezone.now()
    window_start = now - timedelta(minutes=policy.lockout_minutes)
    email = email.strip().lower()
    reset = (LoginEvent.objects.filter(email=email, outcome__in=(Outcome.SUCCESS, Outcome.UNLOCKED))
             .values_list("created_at", flat=True).first())
    failures = LoginEvent.objects.filter(email=email, outcome__in=FAILURES, created_at__gte=window_start)
    if reset:
        failures = failures.filter(created_at__gt=reset)
    times = list(failures.values_list("created_at", flat=True)[: policy.lockout_threshold])
    if len(times) < policy.lockout_threshold:
        return None
    return times[0] + timedelta(minutes=policy.lockout_minutes)


def locked_addresses() -> list[tuple[str, timezone.datetime]]:
    policy = SecurityPolicy.current()
    since = timezone.now() - timedelta(minutes=policy.lockout_minutes)
    candidates = (LoginEvent.objects.filter(outcome__in=FAILURES, created_at__gte=since)
                  .values_list("email", flat=True).distinct())
    return [(email, until) for email in candidates if (until := locked_until(email))]


def unlock(request: HttpRequest, *, email: str) -> None:
    record(request, email=email, outcome=Outcome.UNLOCKED)


def lock_message(until) -> str:
    minutes = max(1, round((until - timezone.now()).total_seconds() / 60))
    return _("Too many failed sign-in attempts for this address. Try again in %(minutes)s minutes, or ask an "
             "administrator of this portal to unlock it.") % {"minutes": minutes}


# --- Two-factor devices ----------------------------------------------------------------------

def has_two_factor(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def start_enrolment(user: User) -> TOTPDevice:
    """A fresh unconfirmed authenticator for the account (replacing an unfinished one)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="Kompas", confirmed=False)


def qr_svg(device: TOTPDevice) -> str:
    return segno.make(device.config_url, error="m").svg_inline(scale=4, dark="#1f2933")


def confirm_enrolment(*, user: User, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm with a code from the app; returns the recovery codes (shown once), or None."""
    if device.user_id != user.pk or not device.verify_token((code or "").replace(" ", "")):
        return None
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return new_recovery_codes(user)


def new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(user=user, name="recovery", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=static, token=code) for code in codes])
    return codes


def verify_second_factor(user: User, code: str):
    """The device that accepted ``code`` (an app code, or a recovery code used up now), or None."""
    return match_token(user, (code or "").replace(" ", "").strip())


def disable_two_factor(user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


# --- Enforcement -------------------------------------------------------------------------------

def two_factor_required_now(user: User, *, now=None, policy: SecurityPolicy | None = None) -> bool:
    """True when the portal requires 2FA, the deadline has passed, and the account has none."""
    policy = policy or SecurityPolicy.current()
    if not policy.require_two_factor or has_two_factor(user):
        return False
    deadline = policy.two_factor_deadline
    return deadline is None or (now or timezone.now()) >= deadline


def two_factor_reminder(user: User) -> str | None:
    policy = SecurityPolicy.current()
    if not policy.require_two_factor or has_two_factor(user) or policy.two_factor_deadline is None:
        return None
    if timezone.now() >= policy.two_factor_deadline:
        return None
    return _("This portal requires two-factor authentication from %(date)s. Set it up now in a minute.") % {
        "date": timezone.localtime(policy.two_factor_deadline).strftime("%d.%m.%Y")}


ALWAYS_ALLOWED = ("/auth/", "/static/", "/i18n/", "/healthz", "/readyz")


class TwoFactorEnforcementMiddleware:
    """After the deadline a member without 2FA can only reach the set-up page (and log out)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if (tenant is not None and not tenant.is_public and not request.path.startswith(ALWAYS_ALLOWED)
                and request.user.is_authenticated
                and two_factor_required_now(request.user, policy=getattr(request, "security_policy", None))):
            if request.path.startswith("/api/"):
                from django.http import JsonResponse

                message = str(_("This portal requires two-factor authentication. Set it up in the browser first."))
                return JsonResponse({"error": {"code": "two_factor_required", "message": message, "fields": {}},
                                     "detail": message}, status=403)
            return redirect("members:two-factor-setup")
        return self.get_response(request)


# --- IP allowlists ---------------------------------------------------------------------------

def parse_allowlist(text: str) -> list:
    """Networks from one-per-line text; raises ValidationError naming the bad line."""
    import ipaddress

    from django.core.exceptions import ValidationError

    networks = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            message = _("Line %(line)s: “%(value)s” is not an IP address or network "
                        "(e.g. 203.0.113.7 or 203.0.113.0/24).") % {"line": number, "value": entry}
            raise ValidationError(message) from None
    return networks


def allowlist_for(membership, *, policy: SecurityPolicy | None = None) -> str:
    """The most specific list that is set: the person's, else the nearest department's, else the portal's."""
    if membership is not None and membership.ip_allowlist.strip():
        return membership.ip_allowlist
    department = membership.department if membership is not None and membership.department_id else None
    while department is not None:
        if department.ip_allowlist.strip():
            return department.ip_allowlist
        department = department.parent
    return (policy or SecurityPolicy.current()).ip_allowlist


def ip_allowed(membership, ip: str | None, *, policy: SecurityPolicy | None = None) -> bool:
    import ipaddress

    networks = parse_allowlist(allowlist_for(membership, policy=policy))
    if not networks:
        return True
    if not ip:
        return False
    address = ipaddress.ip_address(ip)
    return any(address in network for network in networks)


def ip_refusal(ip: str | None) -> str:
    return _("Signing in from your IP address (%(ip)s) is not allowed in this portal. Ask an administrator "
             "if you need access from here.") % {"ip": ip or "?"}


# --- Sessions ----------------------------------------------------------------------------------

def remember_session(request: HttpRequest, user: User) -> None:
    """Record the new session and give it the portal's time limit."""
    from identity.members.models import MemberSession

    request.session.set_expiry(SecurityPolicy.current().session_hours * 3600)
    if not request.session.session_key:
        request.session.save()
    MemberSession.objects.update_or_create(session_key=request.session.session_key, defaults={
        "user_id": user.pk, "ip": client_ip(request), "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300]})


def end_sessions(*, user_id: int, keep: str | None = None) -> int:
    """End the person's sessions in this portal (all, or all but ``keep``); returns how many."""
    from django.contrib.sessions.models import Session

    from identity.members.models import MemberSession

    sessions = MemberSession.objects.filter(user_id=user_id)
    if keep:
        sessions = sessions.exclude(session_key=keep)
    keys = list(sessions.values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    sessions.delete()
    return len(keys)


class IpAllowlistMiddleware:
    """A session used from an address the rules do not allow is refused, whatever it was opened from."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if (tenant is not None and not tenant.is_public and request.user.is_authenticated
                and not request.path.startswith(("/static/", "/auth/logout/"))):
            member = getattr(request, "member", None)
            ip = client_ip(request)
            # Read once per request: the two-factor check below needs the same row.
            request.security_policy = SecurityPolicy.current()
            if not ip_allowed(member if member else None, ip, policy=request.security_policy):
                from django.http import HttpResponseForbidden
                from django.template.loader import render_to_string

                body = render_to_string("members/ip_refused.html", {"message": ip_refusal(ip)}, request=request)
                return HttpResponseForbidden(body)
        return self.get_response(request)
