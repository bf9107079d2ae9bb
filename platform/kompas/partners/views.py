"""The partner portal on the public host, under /partners/ (docs/decisions/0022).

Every page is for one partner, named in the address (``/partners/<partner>/…``), and only for
that partner's active members: anyone else gets the not-found page, so addresses of other
partners, their clients and their people reveal nothing. Writes are for partner administrators.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from identity.accounts.models import User
from kompas.partners import selectors, services
from kompas.partners.forms import AcceptExistingForm, AcceptNewForm, CreateClientForm, InviteMemberForm, LinkForm
from tenants.models import PartnerMember

BACKEND = "identity.members.backends.PortalMemberBackend"
LOGIN_URL = "/login/"  # the public host's login page (name "public_login")


def _scheme() -> str:
    return "https" if settings.USE_TLS else "http"


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    for field, errors in error.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def partner_page(*, admin: bool = False) -> Callable:
    """Signed in and an active member (``admin``: administrator) of the partner in the address."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        @never_cache
        def guarded(request: HttpRequest, partner_slug: str, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), LOGIN_URL)
            member = selectors.partner_membership(request.user, partner_slug)
            if member is None:
                raise Http404
            if admin and member.role != PartnerMember.Role.ADMIN:
                return render(request, "partners/forbidden.html", {"member": member}, status=403)
            return view(request, member, *args, **kwargs)

        return guarded

    return decorate


def _context(member: PartnerMember, **extra) -> dict:
    return {"member": member, "partner": member.partner,
            "is_partner_admin": member.role == PartnerMember.Role.ADMIN, **extra}


@never_cache
def index(request: HttpRequest) -> HttpResponse:
    """One partner: its dashboard; several: a choice; none: refused."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), LOGIN_URL)
    memberships = list(selectors.partner_memberships_of(request.user))
    if len(memberships) == 1:
        return redirect("partners:dashboard", partner_slug=memberships[0].partner.slug)
    if not memberships:
        return render(request, "partners/forbidden.html", status=403)
    return render(request, "partners/choose.html", {"memberships": memberships})


@partner_page()
def dashboard(request: HttpRequest, member: PartnerMember) -> HttpResponse:
    rows = selectors.client_rows(member.partner, viewer=request.user, scheme=_scheme(), port=request.get_port())
    return render(request, "partners/dashboard.html", _context(
        member, rows=rows, answered=selectors.answered_link_requests(member.partner)))


@partner_page(admin=True)
@require_http_methods(["GET", "POST"])
def create_client(request: HttpRequest, member: PartnerMember) -> HttpResponse:
    form = CreateClientForm(request.POST or None, partner=member.partner,
                            initial={"managers": [member.pk], "language": "pl"})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            tenant = services.create_client_portal(
                by=member, name=data["name"], slug=data["slug"], owner_email=data["owner_email"],
                language=data["language"], managers=data["managers"], scheme=_scheme(), port=request.get_port())
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("The portal %(portal)s was created. %(email)s got an invitation to become "
                                        "its owner.") % {"portal": tenant.name, "email": data["owner_email"]})
            return redirect("partners:dashboard", partner_slug=member.partner.slug)
    return render(request, "partners/create_client.html", _context(member, form=form),
                  status=400 if request.method == "POST" else 200)


@partner_page(admin=True)
@require_http_methods(["GET", "POST"])
def link(request: HttpRequest, member: PartnerMember) -> HttpResponse:
    form = LinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.ask_to_link(by=member, address=form.cleaned_data["address"], message=form.cleaned_data["message"],
                             scheme=_scheme(), port=request.get_port())
        # The same answer for every address: whether a portal exists there is not the partner's to learn.
        messages.success(request, _("If a portal with this address exists, its administrators have been asked. "
                                    "It appears among your clients once they approve."))
        return redirect("partners:dashboard", partner_slug=member.partner.slug)
    return render(request, "partners/link.html", _context(member, form=form),
                  status=400 if request.method == "POST" else 200)


@partner_page(admin=True)
@require_http_methods(["GET", "POST"])
def client_access(request: HttpRequest, member: PartnerMember, tenant_id: int) -> HttpResponse:
    tenant = selectors.client_of(member.partner, tenant_id)
    if tenant is None:
        raise Http404
    if request.method == "POST":
        target = selectors.member_of_partner(member.partner, _int(request.POST.get("member")))
        if target is None:
            raise Http404
        try:
            services.set_client_access(by=member, tenant=tenant, member=target,
                                       access=request.POST.get("access") == "1")
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        return redirect("partners:client-access", partner_slug=member.partner.slug, tenant_id=tenant.pk)
    access = selectors.access_in_client(member.partner, tenant)
    people = [(person, access.get(person.user_id, False)) for person in selectors.members_of(member.partner)
              if person.is_active]
    return render(request, "partners/client_access.html", _context(member, tenant=tenant, people=people))


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@partner_page()
@require_http_methods(["GET", "POST"])
def members(request: HttpRequest, member: PartnerMember) -> HttpResponse:
    form = InviteMemberForm(request.POST or None)
    is_admin = member.role == PartnerMember.Role.ADMIN
    if request.method == "POST":
        if not is_admin:
            return render(request, "partners/forbidden.html", _context(member), status=403)
        if form.is_valid():
            try:
                services.invite_member(by=member, email=form.cleaned_data["email"], role=form.cleaned_data["role"],
                                       link_for=lambda token: _invitation_link(request, token))
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, _("The invitation was sent to %(email)s.") % {
                    "email": form.cleaned_data["email"]})
                return redirect("partners:members", partner_slug=member.partner.slug)
    return render(request, "partners/members.html", _context(
        member, form=form, people=selectors.members_of(member.partner),
        invitations=selectors.pending_partner_invitations(member.partner), roles=PartnerMember.Role.choices),
        status=400 if request.method == "POST" else 200)


def _invitation_link(request: HttpRequest, token: str) -> str:
    port = request.get_port()
    suffix = f":{port}" if port and str(port) not in ("80", "443") else ""
    return f"{_scheme()}://{settings.BASE_DOMAIN}{suffix}{reverse('partners:invitation', args=[token])}"


def _member_from_post(member: PartnerMember, member_id: int) -> PartnerMember:
    target = selectors.member_of_partner(member.partner, member_id)
    if target is None:
        raise Http404
    return target


@partner_page(admin=True)
@require_POST
def member_role(request: HttpRequest, member: PartnerMember, member_id: int) -> HttpResponse:
    target = _member_from_post(member, member_id)
    try:
        services.set_member_role(by=member, member=target, role=request.POST.get("role", ""))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The role was changed."))
    return redirect("partners:members", partner_slug=member.partner.slug)


@partner_page(admin=True)
@require_POST
def member_active(request: HttpRequest, member: PartnerMember, member_id: int) -> HttpResponse:
    target = _member_from_post(member, member_id)
    active = request.POST.get("active") == "1"
    try:
        services.set_member_active(by=member, member=target, active=active)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("%(name)s was reactivated.") % {"name": target.user.get_full_name()} if active
                         else _("%(name)s was deactivated; their access to your clients' portals has ended.")
                         % {"name": target.user.get_full_name()})
    return redirect("partners:members", partner_slug=member.partner.slug)


@never_cache
@require_http_methods(["GET", "POST"])
def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_for_token(token)
    if invitation is None:
        return render(request, "partners/invitation_invalid.html", status=404)
    account = User.objects.filter(email__iexact=invitation.email).first()
    form = (AcceptExistingForm if account else AcceptNewForm)(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            if account is not None:
                if not account.is_active or not account.check_password(form.cleaned_data["password"]):
                    raise ValidationError({"password": _("The password is incorrect.")})
                services.accept_invitation(invitation=invitation, user=account)
                user = account
            else:
                services.accept_invitation_as_new_account(
                    invitation=invitation, full_name=form.cleaned_data["full_name"],
                    password=form.cleaned_data["password"])
                user = User.objects.get(email__iexact=invitation.email)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            login(request, user, backend=BACKEND)
            messages.success(request, _("Welcome to %(partner)s!") % {"partner": invitation.partner.name})
            return redirect("partners:dashboard", partner_slug=invitation.partner.slug)
    return render(request, "partners/invitation.html", {"invitation": invitation, "form": form,
                                                        "has_account": account is not None},
                  status=400 if request.method == "POST" else 200)
