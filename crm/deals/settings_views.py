"""Settings → Pipelines and stages (administrators): pipelines (name, on/off, default, roles) and,
per pipeline, its stages (name, colour, win probability, kind, required fields, order, deletion).

Every change goes through crm.deals.services; its errors are shown on the fields they name.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from crm.core import selectors
from crm.core.custom_fields import definitions
from crm.deals import services as deals
from crm.deals.models import Deal, Pipeline, Stage, StageKind
from crm.deals.views import show_service_errors, stage_colour
from identity.members.decorators import portal_admin_required
from identity.members.models import Role

# Deal fields a stage may require (lost stages always ask for the reason); custom fields follow.
REQUIRABLE = ["value", "expected_close_date", "company", "contacts", "source", "owner", "description"]


def requirable_fields(custom: list, current: list[str] | None = None) -> list[tuple[str, str]]:
    choices = [(name, str(Deal._meta.get_field(name).verbose_name).capitalize()) for name in REQUIRABLE]
    choices += [(f"custom.{field.code}", field.label) for field in custom]
    known = {name for name, _label in choices}
    # Keep what the API or a since switched-off custom field put there, so saving does not drop it silently.
    choices += [(name, name) for name in current or [] if name not in known]
    return choices


class NewPipelineForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name of the new pipeline"), max_length=120, required=False)


class PipelineForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Pipeline name"), max_length=120, required=False)
    is_active = forms.BooleanField(label=gettext_lazy("Switched on (deals can be added to it and moved in it)"),
                                   required=False)
    allowed_roles = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Only for these roles"), queryset=Role.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Tick none and everyone who may read deals works in this pipeline. "
                               "Administrators always do."))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["allowed_roles"].queryset = Role.objects.filter(is_administrator=False).order_by("name")


class StageForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Stage name"), max_length=120, required=False)
    color = forms.CharField(label=gettext_lazy("Colour"), widget=forms.TextInput(attrs={"type": "color"}),
                            validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$",
                                                       gettext_lazy("Choose a colour such as #4f7cff."))])
    probability = forms.IntegerField(label=gettext_lazy("Win probability (%)"), required=False,
                                     widget=forms.NumberInput(attrs={"min": 0, "max": 100, "step": 1}))
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=StageKind.choices)
    required_fields = forms.MultipleChoiceField(label=gettext_lazy("Fields required to enter this stage"),
                                                required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, custom: list | None = None, current: list[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["required_fields"].choices = requirable_fields(
            definitions("deal") if custom is None else custom, current)

    def values(self) -> dict:
        data = self.cleaned_data
        return {"name": data["name"], "color": data["color"], "kind": data["kind"],
                "probability": data["probability"] if data["probability"] is not None else 0,
                "required_fields": list(data["required_fields"])}


def _stage_form(stage: Stage, data=None, *, custom: list | None = None) -> StageForm:
    initial = {"name": stage.name, "color": stage_colour(stage), "probability": stage.probability, "kind": stage.kind,
               "required_fields": stage.required_fields}
    return StageForm(data, prefix=f"stage-{stage.pk}", initial=initial, custom=custom, current=stage.required_fields)


# --- pipelines --------------------------------------------------------------------------------------------------

@portal_admin_required
def pipelines(request: HttpRequest) -> HttpResponse:
    form = NewPipelineForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            pipeline = deals.create_pipeline(name=form.cleaned_data["name"])
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            messages.success(request, _("The pipeline “%(name)s” was created with the usual stages; adjust them below.")
                             % {"name": pipeline.name})
            return redirect("deals:pipeline", pk=pipeline.pk)
    rows = list(Pipeline.objects.order_by("position", "id").annotate(stage_count=Count("stages"))
                .prefetch_related("allowed_roles"))
    counts = dict(selectors.records(request.admin_member, "deal").order_by().values_list("pipeline_id")
                  .annotate(count=Count("id")).values_list("pipeline_id", "count"))
    for row in rows:
        row.deal_count = counts.get(row.pk, 0)
    return render(request, "deals/settings/pipelines.html", {"rows": rows, "form": form},
                  status=400 if request.method == "POST" else 200)


@portal_admin_required
@require_POST
def pipeline_state(request: HttpRequest, pk: int) -> HttpResponse:
    """Switch a pipeline on or off, or make it the default, from the list."""
    pipeline = get_object_or_404(Pipeline, pk=pk)
    action = request.POST.get("action")
    changes = {"activate": {"is_active": True}, "deactivate": {"is_active": False},
               "default": {"is_default": True, "is_active": True}}.get(action)
    if changes is None:
        messages.error(request, _("Choose what to do with the pipeline."))
    else:
        try:
            deals.update_pipeline(pipeline=pipeline, **changes)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, {
                "activate": _("“%(name)s” is switched on."), "deactivate": _("“%(name)s” is switched off."),
                "default": _("“%(name)s” is now the default pipeline.")}[action] % {"name": pipeline.name})
    return redirect(_back(request, reverse("deals:pipelines")))


def _back(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    return target if target.startswith("/settings/crm/pipelines/") else fallback


def _editor(request: HttpRequest, pipeline: Pipeline, *, pipeline_form: PipelineForm | None = None,
            bound: dict[int, StageForm] | None = None, new_form: StageForm | None = None,
            status: int = 200) -> HttpResponse:
    stages = list(pipeline.stages.order_by("position", "id"))
    counts = dict(selectors.records(request.admin_member, "deal").filter(pipeline=pipeline).order_by()
                  .values_list("stage_id").annotate(count=Count("id")).values_list("stage_id", "count"))
    bound = bound or {}
    custom = definitions("deal")
    rows = [{"stage": stage, "form": bound.get(stage.pk) or _stage_form(stage, custom=custom),
             "deals": counts.get(stage.pk, 0), "colour": stage_colour(stage), "first": index == 0,
             "last": index == len(stages) - 1}
            for index, stage in enumerate(stages)]
    pipeline_form = pipeline_form or PipelineForm(prefix="pipeline", initial={
        "name": pipeline.name, "is_active": pipeline.is_active, "allowed_roles": list(pipeline.allowed_roles.all())})
    new_form = new_form or StageForm(prefix="new", custom=custom, initial={"color": "#4f7cff", "probability": 50,
                                                            "kind": StageKind.OPEN})
    return render(request, "deals/settings/pipeline.html", {
        "pipeline": pipeline, "rows": rows, "pipeline_form": pipeline_form, "new_form": new_form,
        "open_bound": set(bound)}, status=status)


@portal_admin_required
def pipeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The editor of one pipeline: its settings at the top, its stages below."""
    pipeline = get_object_or_404(Pipeline, pk=pk)
    if request.method != "POST":
        return _editor(request, pipeline)
    form = PipelineForm(request.POST, prefix="pipeline")
    if form.is_valid():
        try:
            deals.update_pipeline(pipeline=pipeline, name=form.cleaned_data["name"],
                                  is_active=form.cleaned_data["is_active"],
                                  allowed_roles=list(form.cleaned_data["allowed_roles"]))
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            messages.success(request, _("The pipeline “%(name)s” was saved.") % {"name": pipeline.name})
            return redirect("deals:pipeline", pk=pipeline.pk)
    pipeline.refresh_from_db()
    return _editor(request, pipeline, pipeline_form=form, status=400)


# --- stages -----------------------------------------------------------------------------------------------------

@portal_admin_required
@require_POST
def add_stage(request: HttpRequest, pk: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pk)
    form = StageForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            with transaction.atomic():
                stage = deals.add_stage(pipeline=pipeline, **form.values())
                _before_closed_stages(pipeline, stage)
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            messages.success(request, _("The stage “%(name)s” was added.") % {"name": stage.name})
            return redirect(f"{reverse('deals:pipeline', args=[pipeline.pk])}#stage-{stage.pk}")
    return _editor(request, pipeline, new_form=form, status=400)


def _before_closed_stages(pipeline: Pipeline, stage: Stage) -> None:
    """A new open stage goes before the won and lost stages, where an administrator expects it."""
    if stage.kind != StageKind.OPEN:
        return
    order = list(pipeline.stages.exclude(pk=stage.pk).order_by("position", "id").values_list("pk", "kind"))
    first_closed = next((index for index, (_pk, kind) in enumerate(order) if kind != StageKind.OPEN), None)
    if first_closed is None:
        return
    ids = [pk for pk, _kind in order]
    ids.insert(first_closed, stage.pk)
    deals.reorder_stages(pipeline=pipeline, stage_ids=ids)


def _stage_of(pipeline: Pipeline, stage_id: int) -> Stage:
    return get_object_or_404(Stage.objects.select_related("pipeline"), pipeline=pipeline, pk=stage_id)


@portal_admin_required
@require_POST
def stage(request: HttpRequest, pk: int, stage_id: int) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, pk=pk)
    stage = _stage_of(pipeline, stage_id)
    form = _stage_form(stage, request.POST)
    if form.is_valid():
        try:
            deals.update_stage(stage=stage, **form.values())
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            messages.success(request, _("The stage “%(name)s” was saved.") % {"name": stage.name})
            return redirect(f"{reverse('deals:pipeline', args=[pipeline.pk])}#stage-{stage.pk}")
    stage.refresh_from_db()
    return _editor(request, pipeline, bound={stage.pk: form}, status=400)


@portal_admin_required
@require_POST
def move_stage(request: HttpRequest, pk: int, stage_id: int) -> HttpResponse:
    """"Up" and "Down": the keyboard's way to reorder stages (dragging posts the whole order)."""
    pipeline = get_object_or_404(Pipeline, pk=pk)
    stage = _stage_of(pipeline, stage_id)
    ids = list(pipeline.stages.order_by("position", "id").values_list("pk", flat=True))
    index = ids.index(stage.pk)
    target = index - 1 if request.POST.get("direction") == "up" else index + 1
    if 0 <= target < len(ids):
        ids[index], ids[target] = ids[target], ids[index]
        deals.reorder_stages(pipeline=pipeline, stage_ids=ids)
    return redirect(f"{reverse('deals:pipeline', args=[pipeline.pk])}#stage-{stage.pk}")


@portal_admin_required
@require_POST
def order_stages(request: HttpRequest, pk: int) -> HttpResponse:
    """The order after a drag: every stage id of the pipeline, first to last."""
    pipeline = get_object_or_404(Pipeline, pk=pk)
    raw = request.POST.getlist("stage")
    try:
        deals.reorder_stages(pipeline=pipeline, stage_ids=[int(value) for value in raw if value.isdigit()])
    except ValidationError as error:
        message = " ".join(error.messages)
        if request.htmx:
            return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
        messages.error(request, message)
    else:
        if request.htmx:
            return HttpResponse(status=204)
        messages.success(request, _("The new order of the stages was saved."))
    return redirect("deals:pipeline", pk=pipeline.pk)


class DeleteStageForm(forms.Form):
    move_deals_to = forms.ModelChoiceField(label=gettext_lazy("Move its deals to"), queryset=Stage.objects.none(),
                                           required=False, empty_label="—")


@portal_admin_required
def delete_stage(request: HttpRequest, pk: int, stage_id: int) -> HttpResponse:
    """Asks where the stage's deals go (when it has any), then deletes it."""
    pipeline = get_object_or_404(Pipeline, pk=pk)
    stage = _stage_of(pipeline, stage_id)
    form = DeleteStageForm(request.POST if request.method == "POST" else None)
    form.fields["move_deals_to"].queryset = pipeline.stages.exclude(pk=stage.pk).order_by("position", "id")
    live = selectors.records(request.admin_member, "deal").filter(stage=stage).count()
    binned = selectors.recycle_bin(request.admin_member, "deal").filter(stage=stage).count()
    if request.method == "POST" and form.is_valid():
        try:
            deals.delete_stage(stage=stage, move_deals_to=form.cleaned_data["move_deals_to"])
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            messages.success(request, _("The stage “%(name)s” was deleted.") % {"name": stage.name})
            if request.htmx:
                response = HttpResponse(status=204)
                response["HX-Redirect"] = reverse("deals:pipeline", args=[pipeline.pk])
                return response
            return redirect("deals:pipeline", pk=pipeline.pk)
    context = {"pipeline": pipeline, "stage": stage, "form": form, "live": live, "binned": binned,
               "has_deals": bool(live or binned)}
    if request.htmx:
        return render(request, "deals/settings/_delete_stage.html", context)
    return render(request, "deals/settings/delete_stage.html", context,
                  status=400 if request.method == "POST" else 200)
