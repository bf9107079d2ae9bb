"""Settings → API keys: administrators create (token shown once), list and revoke keys."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from billing import limits
from billing.models import Feature
from identity.members.decorators import portal_admin_required
from identity.members.models import ApiKey, Role
from identity.members.services import create_api_key, revoke_api_key


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Key name"), max_length=80)
    role = forms.ModelChoiceField(label=gettext_lazy("Role"), queryset=Role.objects.none())

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = Role.objects.order_by("name")


def _page(request: HttpRequest, form: ApiKeyForm, *, new_token: str | None = None, status: int = 200) -> HttpResponse:
    return render(request, "members/api_keys.html", {
        "keys": ApiKey.objects.select_related("role").all(), "form": form, "new_token": new_token,
        "api_in_plan": limits.has_feature(request.tenant, Feature.API_ACCESS),
    }, status=status)


@portal_admin_required
def api_keys(request: HttpRequest) -> HttpResponse:
    member = request.admin_member
    if request.method != "POST":
        return _page(request, ApiKeyForm())
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        key, token = create_api_key(name=form.cleaned_data["name"], role=form.cleaned_data["role"], created_by=member)
    except ValidationError as error:
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _page(request, form, status=400)
    messages.success(request, _("The key “%(name)s” was created. Copy it now: it is shown only once.")
                     % {"name": key.name})
    return _page(request, ApiKeyForm(), new_token=token)


@require_POST
@portal_admin_required
def revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = get_object_or_404(ApiKey, pk=key_id)
    revoke_api_key(key=key)
    messages.success(request, _("The key “%(name)s” was revoked; calls made with it are refused from now on.")
                     % {"name": key.name})
    return redirect("api-keys:list")
