"""Pages of the sales flow: the lead conversion wizard, the weighted forecast, conversion settings
and recurring leads. Thin: reads through selectors, writes through crm.sales.services."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from crm.core import selectors
from crm.core.record_views import record_view
from crm.deals.models import Stage, StageKind
from crm.deals.services import pipelines_for
from crm.leads.models import LeadStatus
from crm.sales import selectors as sales_selectors
from crm.sales import services
from crm.sales.models import AutoConvertCondition, ConversionTarget, RecurringLead
from identity.members import permissions
from identity.members.decorators import portal_admin_required

# --- Conversion wizard --------------------------------------------------------------------------


class DealForm(forms.Form):
    make_deal = forms.BooleanField(label=gettext_lazy("Create a deal"), required=False, initial=True)
    title = forms.CharField(label=gettext_lazy("Deal title"), max_length=250, required=False)
    value = forms.DecimalField(label=gettext_lazy("Value"), max_digits=14, decimal_places=2, required=False,
                               min_value=0)
    currency = forms.CharField(label=gettext_lazy("Currency"), max_length=3, required=False)
    stage = forms.TypedChoiceField(label=gettext_lazy("Pipeline and stage"), coerce=int, required=False)
    expected_close_date = forms.DateField(label=gettext_lazy("Expected close date"), required=False,
                                          widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, member=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        stages = (Stage.objects.filter(pipeline__in=pipelines_for(member), kind=StageKind.OPEN)
                  .select_related("pipeline").order_by("pipeline__position", "pipeline_id", "position", "id"))
        grouped: dict[str, list] = {}
        for stage in stages:
            grouped.setdefault(stage.pipeline.name, []).append((stage.pk, stage.name))
        self.stages = {stage.pk: stage for stage in stages}
        self.fields["stage"].choices = list(grouped.items())

    def clean(self):
        data = super().clean()
        if data.get("make_deal") and not (data.get("title") or "").strip():
            self.add_error("title", _("Give the deal a title."))
        return data

    def deal_values(self) -> dict | None:
        data = self.cleaned_data
        if not data.get("make_deal"):
            return None
        values = {"title": data["title"].strip(), "value": data.get("value"),
                  "currency": (data.get("currency") or "").strip().upper() or None,
                  "expected_close_date": data.get("expected_close_date")}
        stage = self.stages.get(data.get("stage"))
        if stage is not None:
            values |= {"pipeline": stage.pipeline_id, "stage": stage.pk}
        return values


def _choice(value: str):
    if value in ("new", "", None):
        return value or None
    try:
        return int(value)
    except ValueError:
        return None


@record_view
@require_http_methods(["GET", "POST"])
def convert(request: HttpRequest, pk: int) -> HttpResponse:
    member = request.member
    lead = selectors.record_for(member, "lead", pk)
    lead_url = reverse("crm-record", args=["leads", lead.pk])
    if lead.status == LeadStatus.CONVERTED:
        return render(request, "sales/convert_done.html", {"lead": lead, "lead_url": lead_url,
                                                           "deals": lead.deals.filter(deleted_at__isnull=True)})
    permissions.require(member, "lead", "edit", owner=lead.owner)
    matches = services.conversion_matches(lead, actor=member)
    preview = {target: services.mapped_values(lead, target) for target in ConversionTarget.values}
    default_contact = str(matches.contacts[0].record.pk) if matches.contacts else "new"
    default_company = (str(matches.companies[0].record.pk) if matches.companies
                       else ("new" if lead.company_name else ""))
    if lead.is_repeat:
        default_contact = str(lead.contact_id or "")
        default_company = str(lead.company_id or "")
    chosen = {"contact": default_contact, "company": default_company}
    error = None
    if request.method == "POST":
        chosen = {"contact": request.POST.get("contact", ""), "company": request.POST.get("company", "")}
        form = DealForm(request.POST, member=member)
        if form.is_valid():
            try:
                result = services.convert_lead(actor=member, lead=lead, contact=_choice(chosen["contact"]),
                                               company=_choice(chosen["company"]), deal=form.deal_values())
            except ValidationError as problem:
                if hasattr(problem, "error_dict"):
                    for name, errors in problem.message_dict.items():
                        target = name if name in form.fields else None
                        for message in errors:
                            form.add_error(target, message)
                else:
                    error = " ".join(problem.messages)
            else:
                messages.success(request, _("The lead is converted."))
                target = result.deal or result.contact or result.company
                slug = {"deal": "deals", "contact": "contacts", "company": "companies"}[
                    "deal" if result.deal else "contact" if result.contact else "company"]
                return redirect("crm-record", slug, target.pk)
    else:
        stage = pipelines_for(member).filter(is_default=True).first()
        first_stage = (Stage.objects.filter(pipeline=stage, kind=StageKind.OPEN).order_by("position", "id").first()
                       if stage else None)
        form = DealForm(member=member, initial={
            "make_deal": True, "title": preview["deal"].get("title", lead.title), "value": lead.value,
            "currency": lead.currency, "stage": first_stage.pk if first_stage else None})
    contact_name = " ".join(filter(None, [preview["contact"].get("first_name"), preview["contact"].get("last_name")]))
    return render(request, "sales/convert.html", {
        "lead": lead, "lead_url": lead_url, "matches": matches, "chosen": chosen, "form": form, "error": error,
        "new_contact_name": contact_name or lead.title,
        "new_company_name": preview["company"].get("name") or lead.company_name,
    })


# --- Forecast -----------------------------------------------------------------------------------

@record_view
def forecast(request: HttpRequest) -> HttpResponse:
    member = request.member
    group_by = request.GET.get("group_by") if request.GET.get("group_by") in ("pipeline", "owner") else "pipeline"
    pipelines = list(pipelines_for(member))
    pipeline = None
    if request.GET.get("pipeline", "").isdigit():
        pipeline = next((p for p in pipelines if p.pk == int(request.GET["pipeline"])), None)
    rows = sales_selectors.forecast(member, group_by=group_by, pipeline=pipeline)
    table = sales_selectors.forecast_table(rows, group_by)
    return render(request, "sales/forecast.html", {"table": table, "group_by": group_by, "pipelines": pipelines,
                                                   "pipeline": pipeline})


# --- Settings: conversion -----------------------------------------------------------------------

class RuleForm(forms.Form):
    auto_convert = forms.BooleanField(label=gettext_lazy("Convert leads automatically"), required=False)
    condition = forms.ChoiceField(label=gettext_lazy("When"), choices=AutoConvertCondition.choices)


@portal_admin_required
@require_http_methods(["GET", "POST"])
def conversion_settings(request: HttpRequest) -> HttpResponse:
    current = services.conversion_settings()
    rows = services.mapping()
    rule_form = RuleForm(initial={"auto_convert": current.auto_convert, "condition": current.condition})
    errors: list[str] = []
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "rule":
            rule_form = RuleForm(request.POST)
            if rule_form.is_valid():
                services.save_conversion_settings(**rule_form.cleaned_data)
                messages.success(request, _("Saved."))
                return redirect("sales-conversion-settings")
        elif action in ("mapping", "reset"):
            new_rows = []
            if action == "mapping":
                for index in range(len(rows) + 1):
                    lead_field = request.POST.get(f"lead_field_{index}", "")
                    target = request.POST.get(f"target_{index}", "")
                    if lead_field and target and not request.POST.get(f"remove_{index}"):
                        target, _dot, target_field = target.partition(".")
                        new_rows.append((lead_field, target, target_field))
            try:
                services.set_mapping(new_rows)
            except ValidationError as problem:
                errors = problem.messages
                rows = new_rows
            else:
                messages.success(request, _("Saved."))
                return redirect("sales-conversion-settings")
    lead_fields = services.field_choices("lead")
    targets = [(label, [(f"{code}.{name}", f"{label}: {field_label}")
                        for name, field_label in services.field_choices(code)])
               for code, label in ConversionTarget.choices]
    return render(request, "sales/settings_conversion.html", {
        "rows": [{"lead_field": lf, "target": f"{t}.{tf}"} for lf, t, tf in rows], "lead_fields": lead_fields,
        "targets": targets, "rule_form": rule_form, "errors": errors, "new_index": len(rows)})


# --- Recurring leads ----------------------------------------------------------------------------

@record_view
def recurring_leads(request: HttpRequest) -> HttpResponse:
    member = request.member
    contacts = selectors.records(member, "contact").values("pk")
    companies = selectors.records(member, "company").values("pk")
    from django.db.models import Q

    items = (RecurringLead.objects.filter(Q(contact__in=contacts) | Q(company__in=companies))
             .select_related("contact", "company", "owner__user").order_by("next_run", "id")[:200])
    return render(request, "sales/recurring_leads.html", {"items": items})
