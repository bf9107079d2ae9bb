"""Settings → Portal: name, default language, time zone, currency, logo and modules; and the portal's files."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from identity.members.decorators import portal_admin_required
from tenants import lifecycle, modules
from tenants.services import CURRENCIES, set_modules, set_portal_logo, update_portal_settings


class PortalSettingsForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Company or portal name"), max_length=200)
    language = forms.ChoiceField(label=gettext_lazy("Default language"), choices=[("pl", "Polski"), ("en", "English")])
    time_zone = forms.ChoiceField(label=gettext_lazy("Time zone"),
                                  choices=[(zone, zone) for zone in sorted(zoneinfo.available_timezones())])
    currency = forms.ChoiceField(label=gettext_lazy("Currency"), choices=[(code, code) for code in CURRENCIES])
    logo = forms.FileField(label=gettext_lazy("Logo (PNG or JPEG, at most 2 MB)"), required=False)


@portal_admin_required
def portal_settings(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    form = PortalSettingsForm(request.POST or None, request.FILES or None, initial={
        "name": tenant.name, "language": tenant.language, "time_zone": tenant.time_zone, "currency": tenant.currency})
    if request.method == "POST" and form.is_valid():
        try:
            data = form.cleaned_data
            update_portal_settings(tenant=tenant, name=data["name"], language=data["language"],
                                   time_zone=data["time_zone"], currency=data["currency"])
            if form.cleaned_data.get("logo"):
                set_portal_logo(tenant=tenant, upload=form.cleaned_data["logo"])
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("The portal settings were saved. The portal address stays %(address)s.")
                             % {"address": request.get_host()})
            return redirect("portal:settings")
    return render(request, "portal/settings.html", {"form": form, **_modules_context(tenant)},
                  status=400 if request.method == "POST" else 200)


def _modules_context(tenant, *, wanted: dict[str, bool] | None = None, errors: list | None = None) -> dict:
    """The Modules section: one row per switchable module, checked when on (or as just submitted)."""
    shown = wanted if wanted is not None else modules.states(tenant)
    return {"module_rows": [{"key": item.key, "label": item.label, "description": item.description,
                             "on": shown[item.key], "requires": [modules.module(key).label for key in item.requires]}
                            for item in modules.MODULES],
            "module_errors": errors or [],
            # A read-only portal (suspended, closed) would refuse the save with 423: show no Save at all.
            "read_only": lifecycle.is_read_only(tenant)}


@portal_admin_required
@require_POST
def portal_modules(request: HttpRequest) -> HttpResponse:
    """Settings → Portal → Modules: the ticked modules are on, the others off; records are kept."""
    tenant = request.tenant
    wanted = {key: key in request.POST.getlist("modules") for key in modules.KEYS}
    try:
        set_modules(tenant, enabled=wanted, actor=request.user)
    except ValidationError as error:
        form = PortalSettingsForm(initial={"name": tenant.name, "language": tenant.language,
                                           "time_zone": tenant.time_zone, "currency": tenant.currency})
        errors = error.message_dict.get("modules", error.messages)
        return render(request, "portal/settings.html",
                      {"form": form, **_modules_context(tenant, wanted=wanted, errors=errors)}, status=400)
    messages.success(request, _("The modules were saved. Records of modules switched off are kept and come back "
                                "when a module is switched on again."))
    return redirect(reverse("portal:settings") + "#modules")


def portal_file(request: HttpRequest, name: str) -> HttpResponse:
    """The portal's logo from file storage, also for the login page (so no sign-in is asked).

    Only this portal's logo prefix is served: other files will need their own, permission-checked view.
    """
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.is_public or not name.startswith(f"portals/{tenant.schema_name}/logo-") or ".." in name:
        raise Http404
    if not default_storage.exists(name):
        raise Http404
    return FileResponse(default_storage.open(name, "rb"))


SETTINGS_SECTIONS = [
    (gettext_lazy("Company"), [
        ("/settings/portal/", gettext_lazy("Portal"),
         gettext_lazy("Name, logo, language, time zone, currency and modules.")),
        ("/settings/billing/", gettext_lazy("Plan and billing"), gettext_lazy("Plan, seats, invoices and limits.")),
        ("/settings/domains/", gettext_lazy("Domains"),
         gettext_lazy("The portal's address and your own domains, with their DNS records.")),
    ]),
    (gettext_lazy("People and access"), [
        ("/settings/people/", gettext_lazy("People"), gettext_lazy("Invitations, join requests and departments.")),
        ("/settings/roles/", gettext_lazy("Roles and rights"), gettext_lazy("Who may read, change and export what.")),
        ("/settings/security/", gettext_lazy("Login security"), gettext_lazy("Two-factor authentication, IP "
                                                                              "addresses, session length.")),
        ("/settings/api-keys/", gettext_lazy("API keys"), gettext_lazy("Keys for integrations and the REST API.")),
        ("/settings/staff-access/", gettext_lazy("Staff access"),
         gettext_lazy("When Kompas staff viewed this portal, as whom and why.")),
        ("/settings/partner/", gettext_lazy("Partner"),
         gettext_lazy("The agency that manages this portal for you; approve, decline or revoke its access.")),
    ]),
    (gettext_lazy("CRM"), [
        ("/settings/crm/pipelines/", gettext_lazy("Pipelines and stages"),
         gettext_lazy("Stages, win probabilities and fields each stage requires.")),
        ("/settings/crm/fields/", gettext_lazy("Custom fields"),
         gettext_lazy("Your own fields on contacts, companies, leads, deals and tasks.")),
        ("/settings/crm/lists/", gettext_lazy("Sources and lists"),
         gettext_lazy("Acquisition sources and their categories, contact types, industries.")),
        ("/settings/crm/quotes/", gettext_lazy("Quote template"),
         gettext_lazy("Header, footer and colours of quotes; the stage an accepted quote moves its deal to.")),
        ("/settings/crm/invoices/", gettext_lazy("Invoices"),
         gettext_lazy("Numbering series, payment term, bank account and reminders.")),
        ("/settings/crm/conversion/", gettext_lazy("Lead conversion"),
         gettext_lazy("Which lead fields go to the contact, company and deal; the automatic rule.")),
    ]),
]


@portal_admin_required
def settings_home(request: HttpRequest) -> HttpResponse:
    # Settings of a module the portal switched off are left out, like its pages.
    sections = [(title, modules.keep_enabled(links, lambda link: link[0], request.tenant))
                for title, links in SETTINGS_SECTIONS]
    return render(request, "portal/settings_home.html", {"sections": [row for row in sections if row[1]]})
