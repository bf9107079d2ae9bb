"""Settings → Portal, for administrators: close the portal, reactivate it, download a full export.

The read-only middleware (tenants.lifecycle) lets exactly these addresses write while the portal is
suspended or cancelled, so a cancelled portal can always be brought back or taken out.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from crm.core import full_export
from crm.core.jobs import export_portal
from identity.members.decorators import portal_admin_required
from tenants import audit, transitions
from tenants.lifecycle import ENDED
from tenants.models import PlatformSettings


class ClosePortalForm(forms.Form):
    address = forms.CharField(label=gettext_lazy("Type the portal address to confirm"), max_length=253)
    reason = forms.CharField(label=gettext_lazy("Why are you leaving? (optional)"), max_length=300, required=False,
                             widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, tenant, host: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.accepted = {tenant.slug.lower(), host.lower()}

    def clean_address(self) -> str:
        address = self.cleaned_data["address"].strip().lower().removeprefix("https://").removeprefix("http://")
        if address.rstrip("/") not in self.accepted:
            raise ValidationError(_("Portal address: type %(address)s exactly to confirm closing this portal.")
                                  % {"address": sorted(self.accepted)[0]})
        return address


def lifecycle_context(request: HttpRequest) -> dict:
    """What the portal settings page shows in its lifecycle section (templatetags.portal_lifecycle)."""
    tenant = request.tenant
    return {
        "request": request,
        "portal": tenant,
        "is_ended": tenant.status in ENDED,
        "close_form": ClosePortalForm(tenant=tenant, host=request.get_host()),
        "exports": full_export.exports(),
        "grace_days": PlatformSettings.load().deletion_grace_days,
    }


@portal_admin_required
@require_POST
def close_portal(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    form = ClosePortalForm(request.POST, tenant=tenant, host=request.get_host())
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return redirect(f"{reverse('portal:settings')}#close-portal")
    try:
        transitions.cancel(tenant, actor=request.user,
                           reason=form.cleaned_data["reason"] or _("Closed by an administrator of the portal."))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("portal:settings")
    messages.success(request, _("The portal has been closed. It is read-only now; you can reactivate it here "
                                "until its data is deleted."))
    return redirect("portal:settings")


@portal_admin_required
@require_POST
def reactivate_portal(request: HttpRequest) -> HttpResponse:
    try:
        transitions.reactivate(request.tenant, actor=request.user,
                               reason=_("Reactivated by an administrator of the portal."))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The portal has been reactivated with all its data."))
    return redirect("portal:settings")


@portal_admin_required
@require_POST
def request_export(request: HttpRequest) -> HttpResponse:
    download_base = request.build_absolute_uri("/settings/portal/export/")
    export_portal.send(request.user.pk, download_base)
    audit.record(action="portal.export_requested", tenant=request.tenant, actor=request.user)
    messages.success(request, _("The full export is being prepared. We will e-mail you a download link to "
                                "%(email)s; it also appears on this page.") % {"email": request.user.email})
    return redirect("portal:settings")


@portal_admin_required
@require_GET
def download_export(request: HttpRequest, name: str) -> HttpResponse:
    """One of this portal's exports; any other name (another portal's, a path) is 404."""
    path = full_export.export_path(name)
    if path is None:
        raise Http404
    return FileResponse(default_storage.open(path, "rb"), as_attachment=True, filename=name,
                        content_type="application/zip")
