"""The staff console on the public host: portals, one portal, actions, staff access, audit log, settings."""

from __future__ import annotations

import csv
import itertools

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_tenants.utils import tenant_context

from billing.stripe_gateway import PaymentProviderError
from identity.members.security import client_ip
from identity.members.selectors import active_members
from kompas.staff import selectors, services
from kompas.staff.auth_views import staff_required
from kompas.staff.forms import (
    AuditFilterForm,
    ChangePlanForm,
    ExtendTrialForm,
    ImpersonateForm,
    PlatformSettingsForm,
    ReasonForm,
    TenantFilterForm,
)
from tenants import selectors as tenant_selectors
from tenants.models import PlatformSettings, Tenant
from tenants.selectors import portals

PAGE_SIZE = 25
ACTION_LABELS = {
    "suspend": gettext_lazy("Suspend"), "resume": gettext_lazy("Resume"), "extend_trial": gettext_lazy("Extend trial"),
    "cancel": gettext_lazy("Cancel"), "schedule_deletion": gettext_lazy("Schedule deletion"),
    "reactivate": gettext_lazy("Reactivate"),
}
# Moves that change nothing when the portal is already where they lead (tenants.transitions).
REPEATABLE_NO_OP = {"suspend", "resume", "cancel", "reactivate"}


@staff_required
def tenant_list(request: HttpRequest) -> HttpResponse:
    form = TenantFilterForm(request.GET or None)
    filters = selectors.TenantFilters()
    if form.is_valid():
        filters = selectors.TenantFilters(**{name: form.cleaned_data.get(name) or ("" if name in (
            "q", "status", "plan", "partner") else None) for name in ("q", "status", "plan", "partner", "created_from",
                                                                       "created_to")})
    page = Paginator(selectors.tenant_list(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"tenant": tenant, "seat_limit": selectors.seat_limit(tenant)} for tenant in page]
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "staff/tenant_list.html", {"form": form, "page": page, "rows": rows,
                                                      "query": query.urlencode(), "section": "tenants"},
                  status=200 if form.is_valid() or not request.GET else 400)


def _tenant(pk: int) -> Tenant:
    return get_object_or_404(portals(), pk=pk)


@staff_required
def tenant_detail(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _tenant(pk)
    overview = selectors.tenant_overview(tenant)
    with tenant_context(tenant):
        members = list(active_members())
    return render(request, "staff/tenant_detail.html", {
        "overview": overview, "tenant": tenant, "section": "tenants",
        "reason_form": ReasonForm(), "trial_form": ExtendTrialForm(),
        "plan_form": ChangePlanForm(initial={"plan": overview.subscription.plan.code if overview.subscription else None,
                                             "seats": overview.subscription.seats if overview.subscription else None}),
        "impersonate_form": ImpersonateForm(members=members),
        "actions": ACTION_LABELS,
    })


def _errors(error: ValidationError) -> str:
    return " ".join(error.messages)


@require_POST
@staff_required
def tenant_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    tenant = _tenant(pk)
    form = (ExtendTrialForm if action == "extend_trial" else ReasonForm)(request.POST)
    if action not in services.ACTIONS:
        messages.error(request, _("Unknown action."))
    elif not form.is_valid():
        messages.error(request, _("%(action)s: %(errors)s") % {"action": ACTION_LABELS[action], "errors": " ".join(
            f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items())})
    else:
        previous = tenant.status
        try:
            services.run_lifecycle_action(tenant=tenant, action=action, actor=request.user,
                                          reason=form.cleaned_data["reason"], days=form.cleaned_data.get("days"))
        except ValidationError as error:
            messages.error(request, _("%(action)s: %(errors)s") % {"action": ACTION_LABELS[action],
                                                                    "errors": _errors(error)})
        else:
            if tenant.status == previous and action in REPEATABLE_NO_OP:
                messages.info(request, _("%(action)s: nothing to do, the portal is already %(status)s.") % {
                    "action": ACTION_LABELS[action], "status": tenant.get_status_display().lower()})
            else:
                messages.success(request, _("%(action)s: done.") % {"action": ACTION_LABELS[action]})
    return redirect("staff:tenant", pk=tenant.pk)


@require_POST
@staff_required
def change_plan(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _tenant(pk)
    form = ChangePlanForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Change plan: %(errors)s") % {"errors": " ".join(
            f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items())})
        return redirect("staff:tenant", pk=tenant.pk)
    try:
        outcome = services.change_plan(tenant=tenant, plan=form.cleaned_data["plan"], seats=form.cleaned_data["seats"],
                                       actor=request.user, reason=form.cleaned_data["reason"], ip=client_ip(request))
    except ValidationError as error:
        messages.error(request, _("Change plan: %(errors)s") % {"errors": _errors(error)})
    except PaymentProviderError as error:
        messages.error(request, _("Change plan: %(errors)s") % {"errors": str(error)})
    else:
        messages.success(request, outcome.message)
    return redirect("staff:tenant", pk=tenant.pk)


@require_POST
@staff_required
def impersonate(request: HttpRequest, pk: int) -> HttpResponse:
    """Start staff access and send the browser to the portal's own host with the one-time link."""
    from kompas.staff.middleware import host_url
    from tenants.selectors import primary_host

    tenant = _tenant(pk)
    with tenant_context(tenant):
        members = list(active_members())
    form = ImpersonateForm(request.POST, members=members)
    if not form.is_valid():
        messages.error(request, _("View as a member: %(errors)s") % {"errors": " ".join(
            f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items())})
        return redirect("staff:tenant", pk=tenant.pk)
    try:
        started = services.start_impersonation(tenant=tenant, actor=request.user,
                                               as_user_id=form.cleaned_data["as_user"],
                                               reason=form.cleaned_data["reason"], ip=client_ip(request))
    except ValidationError as error:
        messages.error(request, _("View as a member: %(errors)s") % {"errors": _errors(error)})
        return redirect("staff:tenant", pk=tenant.pk)
    return redirect(host_url(request, primary_host(tenant), f"/staff-access/enter/{started.token}/"))


@staff_required
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None, actions=selectors.audit_actions())
    filters = selectors.AuditFilters()
    if form.is_valid():
        filters = selectors.AuditFilters(**{name: form.cleaned_data.get(name) or ("" if name in (
            "tenant", "actor", "action") else None) for name in ("tenant", "actor", "action", "date_from", "date_to")})
    events = selectors.audit_events(filters)
    if request.GET.get("format") == "csv":
        return _audit_csv(events)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "staff/audit_log.html", {"form": form, "page": page, "query": query.urlencode(),
                                                    "section": "audit"})


class _Echo:
    def write(self, value: str) -> str:
        return value


def _audit_csv(events) -> StreamingHttpResponse:
    import json

    writer = csv.writer(_Echo())
    header = ["time", "actor_kind", "actor", "portal", "partner", "action", "reason", "details", "ip"]
    rows = ([event.created_at.isoformat(), event.actor_kind, event.actor_label, event.tenant_label,
             event.partner.name if event.partner_id else "", event.action, event.reason,
             json.dumps(event.details, ensure_ascii=False, sort_keys=True), event.ip or ""]
            for event in events.iterator(chunk_size=500))
    response = StreamingHttpResponse((writer.writerow(row) for row in itertools.chain([header], rows)),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="kompas-audit-log.csv"'
    return response


@staff_required
def platform_settings(request: HttpRequest) -> HttpResponse:
    current = PlatformSettings.load()
    form = PlatformSettingsForm(request.POST or None, initial={
        "deletion_grace_days": current.deletion_grace_days, "impersonation_minutes": current.impersonation_minutes})
    if request.method == "POST" and form.is_valid():
        try:
            services.update_platform_settings(actor=request.user, ip=client_ip(request), **form.cleaned_data)
        except ValidationError as error:
            for name, errors in error.message_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            messages.success(request, _("Platform settings saved."))
            return redirect("staff:settings")
    return render(request, "staff/platform_settings.html", {"form": form, "section": "settings"},
                  status=400 if request.method == "POST" else 200)


@staff_required
def provisioning(request: HttpRequest) -> HttpResponse:
    """What a failed or interrupted portal creation left behind, and the state of the warm pool."""
    return render(request, "staff/provisioning.html", {
        "problems": tenant_selectors.provisioning_problems(), "pool": tenant_selectors.pool_status(),
        "section": "provisioning"})
