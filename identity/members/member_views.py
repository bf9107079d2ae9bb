"""Settings → People (administrators) and the invitation page (the invited person)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from billing import limits
from identity.accounts.models import User
from identity.members import invitations, security
from identity.members.decorators import portal_admin_required
from identity.members.models import Department, Invitation, Membership, Role
from identity.members.models import JoinRequest as JoinRequestModel
from identity.members.services import add_member, assign, deactivate_member

BACKEND = "identity.members.backends.PortalMemberBackend"


class InviteForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("E-mail address"))
    role = forms.ModelChoiceField(label=gettext_lazy("Role"), queryset=Role.objects.none())
    department = forms.ModelChoiceField(label=gettext_lazy("Department"), queryset=Department.objects.none(),
                                        required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = Role.objects.order_by("name")
        self.fields["role"].initial = Role.objects.filter(code="salesperson").first()
        self.fields["department"].queryset = Department.objects.order_by("path")


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    for field, errors in error.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _people_page(request: HttpRequest, form: InviteForm, status: int = 200) -> HttpResponse:
    return render(request, "members/people.html", {
        "members": Membership.objects.select_related("user", "role", "department").order_by("-is_active", "pk"),
        "invitations": invitations.pending_invitations().select_related("role"),
        "join_requests": JoinRequestModel.objects.filter(status=JoinRequestModel.Status.PENDING),
        "roles": Role.objects.order_by("name"), "form": form,
        "seats": next(line for line in limits.usage_report(request.tenant) if line.resource == "seats"),
    }, status=status)


@portal_admin_required
def people(request: HttpRequest) -> HttpResponse:
    member = request.admin_member
    if request.method != "POST":
        return _people_page(request, InviteForm())
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _people_page(request, form, status=400)
    try:
        invitations.invite(email=form.cleaned_data["email"], role=form.cleaned_data["role"], invited_by=member,
                           department=form.cleaned_data["department"],
                           scheme="https" if request.is_secure() else "http", port=request.get_port())
    except ValidationError as error:
        _add_errors(form, error)
        return _people_page(request, form, status=400)
    messages.success(request, _("The invitation was sent to %(email)s.") % {"email": form.cleaned_data["email"]})
    return redirect("people:list")


@require_POST
@portal_admin_required
def change_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership, pk=membership_id)
    role = get_object_or_404(Role, pk=request.POST.get("role"))
    if membership.is_owner and not role.is_administrator:
        messages.error(request, _("The owner always keeps the Administrator role."))
    else:
        assign(membership=membership, role=role)
        messages.success(request, _("The role was changed."))
    return redirect("people:list")


@require_POST
@portal_admin_required
def set_active(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership.objects.select_related("user"), pk=membership_id)
    try:
        if request.POST.get("active") == "1":
            add_member(user=membership.user)
            messages.success(request, _("%(name)s is active again.") % {"name": membership.user.get_full_name()})
        else:
            deactivate_member(membership=membership)
            messages.success(request, _("%(name)s was deactivated; their records are kept and the seat is free.")
                             % {"name": membership.user.get_full_name()})
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("people:list")


@require_POST
@portal_admin_required
def revoke_invitation(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitations.revoke(invitation=get_object_or_404(Invitation, pk=invitation_id))
    messages.success(request, _("The invitation was revoked and its seat is free."))
    return redirect("people:list")


class AcceptExistingForm(forms.Form):
    password = forms.CharField(label=gettext_lazy("Your password"), widget=forms.PasswordInput)


class AcceptNewForm(forms.Form):
    full_name = forms.CharField(label=gettext_lazy("Your name"), max_length=200)
    password = forms.CharField(label=gettext_lazy("Choose a password"), widget=forms.PasswordInput)


def accept_invitation(request: HttpRequest, token: str) -> HttpResponse:
    invitation = invitations.invitation_for_token(token)
    if invitation is None:
        return render(request, "members/invitation_invalid.html", status=404)
    account = User.objects.filter(email__iexact=invitation.email).first()
    form_class = AcceptExistingForm if account else AcceptNewForm
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            if account is not None:
                if not account.is_active or not account.check_password(form.cleaned_data["password"]):
                    raise ValidationError({"password": _("The password is incorrect.")})
                invitations.accept(invitation=invitation, user=account)
                user = account
            else:
                invitations.accept_as_new_account(invitation=invitation, full_name=form.cleaned_data["full_name"],
                                                  password=form.cleaned_data["password"])
                user = User.objects.get(email__iexact=invitation.email)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            login(request, user, backend=BACKEND)
            security.remember_session(request, user)
            messages.success(request, _("Welcome to %(portal)s!") % {"portal": request.tenant.name})
            return redirect("portal:home")
    return render(request, "members/invitation.html", {"invitation": invitation, "form": form,
                                                       "has_account": account is not None},
                  status=400 if request.method == "POST" else 200)


@require_POST
@portal_admin_required
def force_logout(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = get_object_or_404(Membership.objects.select_related("user"), pk=membership_id)
    ended = security.end_sessions(user_id=membership.user_id)
    messages.success(request, _("%(name)s was signed out on %(count)s devices.")
                     % {"name": membership.user.get_full_name(), "count": ended})
    return redirect("people:list")


class JoinForm(forms.Form):
    full_name = forms.CharField(label=gettext_lazy("Your name"), max_length=200)
    email = forms.EmailField(label=gettext_lazy("E-mail address"))
    message = forms.CharField(label=gettext_lazy("Message to the administrators (optional)"), max_length=500,
                              required=False, widget=forms.Textarea(attrs={"rows": 3}))


def ask_to_join(request: HttpRequest) -> HttpResponse:
    from identity.members import join_requests

    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            join_requests.ask_to_join(**form.cleaned_data, scheme="https" if request.is_secure() else "http",
                                      port=request.get_port())
        except ValidationError as error:
            _add_errors(form, error)
        else:
            return render(request, "members/join_sent.html")
    return render(request, "members/join.html", {"form": form}, status=400 if request.method == "POST" else 200)


def confirm_join(request: HttpRequest, token: str) -> HttpResponse:
    from identity.members import join_requests

    confirmed = join_requests.confirm(token)
    return render(request, "members/join_confirmed.html", {"confirmed": confirmed is not None},
                  status=200 if confirmed else 404)


@require_POST
@portal_admin_required
def decide_join(request: HttpRequest, request_id: int) -> HttpResponse:
    from identity.members import join_requests
    from identity.members.models import JoinRequest

    member = request.admin_member
    join_request = get_object_or_404(JoinRequest, pk=request_id, status=JoinRequest.Status.PENDING)
    try:
        if request.POST.get("decision") == "approve":
            role = get_object_or_404(Role, pk=request.POST.get("role"))
            join_requests.approve(join_request=join_request, role=role, decided_by=member,
                                  scheme="https" if request.is_secure() else "http", port=request.get_port())
            messages.success(request, _("%(email)s was accepted.") % {"email": join_request.email})
        else:
            join_requests.reject(join_request=join_request, decided_by=member)
            messages.success(request, _("The request of %(email)s was declined.") % {"email": join_request.email})
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("people:list")
