"""Settings → Domains: the portal's subdomain and custom domains (docs/decisions/0019).

Administrators add a domain (when the plan includes custom domains), read the DNS records to
create, check them now, choose the primary address and remove a domain. Every lookup of a
domain goes through this portal's own rows, so another portal's id answers 404.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from billing import limits
from billing.models import Feature
from identity.members.decorators import portal_admin_required
from identity.members.security import client_ip
from tenants import domains as domain_services
from tenants import selectors
from tenants.models import Domain


class AddDomainForm(forms.Form):
    domain = forms.CharField(label=gettext_lazy("Domain"), max_length=300,
                             widget=forms.TextInput(attrs={"placeholder": "crm.example.com", "autocomplete": "off",
                                                           "spellcheck": "false"}))


def _rows(tenant) -> list[dict]:
    return [{
        "domain": domain,
        "problems": selectors.check_problems(domain) if domain.is_custom else [],
        "record_name": selectors.verification_record_name(domain.domain),
        "checks_stopped": selectors.automatic_checks_stopped(domain),
    } for domain in selectors.domains_of(tenant)]


def _page(request: HttpRequest, form: AddDomainForm, *, status: int = 200) -> HttpResponse:
    tenant = request.tenant
    return render(request, "portal/domains.html", {
        "form": form, "rows": _rows(tenant), "target": selectors.cname_target(),
        "in_plan": limits.has_feature(tenant, Feature.CUSTOM_DOMAIN),
    }, status=status)


@portal_admin_required
def domain_list(request: HttpRequest) -> HttpResponse:
    return _page(request, AddDomainForm())


@require_POST
@portal_admin_required
def add(request: HttpRequest) -> HttpResponse:
    form = AddDomainForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        # Billing sits above tenants (DESIGN.md), so the plan is asked here, before the write.
        limits.require_feature(request.tenant, Feature.CUSTOM_DOMAIN)
        domain = domain_services.add_custom_domain(tenant=request.tenant, domain=form.cleaned_data["domain"],
                                                   actor=request.user, ip=client_ip(request))
    except ValidationError as error:
        for messages_ in error.message_dict.values():
            form.add_error("domain", messages_)
        return _page(request, form, status=400)
    messages.success(request, _("%(domain)s was added. Create the two DNS records shown below, then press "
                                "“Check now”.") % {"domain": domain.domain})
    return redirect("portal:domains")


def _own_custom_domain(request: HttpRequest, domain_id: int) -> Domain:
    domain = selectors.custom_domain_of(request.tenant, domain_id)
    if domain is None:
        raise Http404
    return domain


@require_POST
@portal_admin_required
def check_now(request: HttpRequest, domain_id: int) -> HttpResponse:
    domain = _own_custom_domain(request, domain_id)
    was_verified = domain.verified_at is not None
    report = domain_services.check_domain(domain, actor=request.user, ip=client_ip(request))
    if report.txt_ok and not was_verified:
        messages.success(request, _("%(domain)s is verified and now leads to this portal.") % {"domain": domain.domain})
    elif report.txt_ok and report.cname_ok:
        messages.success(request, _("The DNS records of %(domain)s are correct.") % {"domain": domain.domain})
    else:
        messages.warning(request, _("The check of %(domain)s found problems; they are listed next to the domain.")
                         % {"domain": domain.domain})
    return redirect("portal:domains")


@require_POST
@portal_admin_required
def make_primary(request: HttpRequest, domain_id: int) -> HttpResponse:
    try:
        domain = domain_services.set_primary_domain(tenant=request.tenant, domain_id=domain_id,
                                                    actor=request.user, ip=client_ip(request))
    except Domain.DoesNotExist:
        raise Http404 from None
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
        return redirect("portal:domains")
    messages.success(request, _("%(domain)s is now the portal's primary address: links in e-mails use it.")
                     % {"domain": domain.domain})
    return redirect("portal:domains")


@require_POST
@portal_admin_required
def remove(request: HttpRequest, domain_id: int) -> HttpResponse:
    domain = _own_custom_domain(request, domain_id)
    try:
        domain_services.remove_custom_domain(tenant=request.tenant, domain_id=domain.pk, actor=request.user,
                                             ip=client_ip(request))
    except Domain.DoesNotExist:
        raise Http404 from None
    messages.success(request, _("%(domain)s was removed and no longer leads to this portal.")
                     % {"domain": domain.domain})
    return redirect("portal:domains")
