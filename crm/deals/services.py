"""Pipelines, stages and the rules of moving a deal through them (seed 000 L3141–3534)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.core import services as records
from crm.core.money import clean_currency
from crm.deals.models import Deal, Pipeline, Stage, StageKind
from crm.dictionaries.services import check_choice
from identity.members.models import Membership

DEFAULT_STAGES = [
    (gettext_lazy("New"), 10, StageKind.OPEN, "#8aa4ff"),
    (gettext_lazy("Qualification"), 25, StageKind.OPEN, "#4f7cff"),
    (gettext_lazy("Offer sent"), 50, StageKind.OPEN, "#f0a020"),
    (gettext_lazy("Negotiation"), 75, StageKind.OPEN, "#e07b39"),
    (gettext_lazy("Won"), 100, StageKind.WON, "#2e9e5b"),
    (gettext_lazy("Lost"), 0, StageKind.LOST, "#c0392b"),
]


class StageRequirementsError(ValidationError):
    """The stage asks for fields the deal does not have; each is named in the message."""

    def __init__(self, stage: Stage, missing: list[tuple[str, str]]) -> None:
        self.stage, self.missing = stage, missing
        super().__init__({name: [_("Required to move the deal to “%(stage)s”: %(field)s.")
                                 % {"stage": stage.name, "field": label}] for name, label in missing})


def pipeline_access_q(principal) -> Q:
    """Pipelines without chosen roles are open to everyone who may read deals."""
    if principal is None:
        return Q(pk__in=[])
    if isinstance(principal, Membership) and principal.has_admin_rights:
        return Q()
    return Q(pipeline__in=_open_pipelines(principal))


def pipelines_for(principal) -> models.QuerySet:
    """Active pipelines the principal may work in, in board order."""
    return Pipeline.objects.filter(is_active=True).filter(
        pk__in=Deal.objects.none().values("pk") if principal is None else _open_pipelines(principal))


def _open_pipelines(principal) -> models.QuerySet:
    if isinstance(principal, Membership) and principal.has_admin_rights:
        return Pipeline.objects.values("pk")
    role_id = getattr(principal, "role_id", None)
    return Pipeline.objects.filter(Q(allowed_roles__isnull=True) | Q(allowed_roles=role_id)).values("pk")


def _field_label(name: str) -> str:
    if name.startswith("custom."):
        from crm.core.models import CustomField

        found = CustomField.objects.filter(entity="deal", code=name.removeprefix("custom.")).first()
        return found.label if found else name
    try:
        return str(Deal._meta.get_field(name).verbose_name)
    except Exception:
        return name


def _is_empty(deal: Deal, name: str) -> bool:
    if name.startswith("custom."):
        return (deal.custom or {}).get(name.removeprefix("custom.")) in (None, "", [])
    if name == "contacts":
        return not deal.pk or not deal.contacts.exists()
    value = getattr(deal, name, None)
    return value in (None, "", []) or (name == "value" and not value)


def missing_for_stage(deal: Deal, stage: Stage, *, pending: dict | None = None) -> list[tuple[str, str]]:
    pending = pending or {}
    missing = []
    for name in stage.required_fields:
        if name in pending and pending[name] not in (None, "", []):
            continue
        if name.startswith("custom.") and (pending.get("custom") or {}).get(name.removeprefix("custom.")) not in (
                None, "", []):
            continue
        if _is_empty(deal, name):
            missing.append((name, _field_label(name)))
    if stage.kind == StageKind.LOST and not (pending.get("lost_reason") or deal.lost_reason):
        missing.append(("lost_reason", str(Deal._meta.get_field("lost_reason").verbose_name)))
    return missing


def _stage_of(value) -> Stage:
    stage = value if isinstance(value, Stage) else Stage.objects.select_related("pipeline").filter(
        pk=value).first() if str(value).isdigit() else None
    if stage is None:
        raise ValidationError({"stage": [_("Choose a stage of the deal's pipeline.")]})
    return stage


def _pipeline_of(value) -> Pipeline:
    pipeline = value if isinstance(value, Pipeline) else Pipeline.objects.filter(
        pk=value).first() if str(value).isdigit() else None
    if pipeline is None:
        raise ValidationError({"pipeline": [_("Choose a pipeline.")]})
    return pipeline


def _pipeline_open_to(principal, pipeline: Pipeline) -> bool:
    if isinstance(principal, Membership) and principal.has_admin_rights:
        return True
    roles = list(pipeline.allowed_roles.values_list("pk", flat=True))
    return not roles or getattr(principal, "role_id", None) in roles


def prepare_deal(values: dict, record: Deal | None, actor) -> dict:
    """Pipeline and stage agree; the stage's required fields are there; probability and closing
    follow the stage; a lost deal says why."""
    if record is None or "currency" in values:
        values["currency"] = clean_currency(values.get("currency"))
    if values.get("source") is not None:
        try:
            values["source"] = check_choice(values["source"], "source")
        except ValidationError as error:
            raise ValidationError({"source": error.messages}) from None
    custom_values = values.get("custom") or {}
    current_pipeline = record.pipeline if record else None
    pipeline = _pipeline_of(values["pipeline"]) if values.get("pipeline") is not None else current_pipeline
    if pipeline is None:
        pipeline = default_pipeline()
    if not pipeline.is_active and (record is None or pipeline != current_pipeline):
        raise ValidationError({"pipeline": [_("The pipeline “%(name)s” is switched off.") % {"name": pipeline.name}]})
    if not _pipeline_open_to(actor, pipeline):
        raise ValidationError({"pipeline": [_("You have no access to the pipeline “%(name)s”.")
                                            % {"name": pipeline.name}]})
    if values.get("stage") is not None:
        stage = _stage_of(values["stage"])
    elif record is not None and pipeline == current_pipeline:
        stage = record.stage
    else:
        stage = pipeline.stages.order_by("position", "id").first()
    if stage is None or stage.pipeline_id != pipeline.pk:
        raise ValidationError({"stage": [_("The stage “%(stage)s” is not in the pipeline “%(pipeline)s”.")
                                         % {"stage": stage.name if stage else "—", "pipeline": pipeline.name}]})
    values["pipeline"], values["stage"] = pipeline, stage
    entering = record is None or record.stage_id != stage.pk
    values.pop("custom", None)
    if entering:
        probe = record or Deal(pipeline=pipeline, stage=stage)
        missing = missing_for_stage(probe, stage, pending=values | {"custom": custom_values})
        if missing:
            raise StageRequirementsError(stage, missing)
        values.setdefault("probability", stage.probability)
        if record is not None and "probability" in values and values["probability"] == record.probability:
            values["probability"] = stage.probability
        values["stage_changed_at"] = timezone.now()
        values["closed_at"] = timezone.now() if stage.is_closed else None
        values["board_position"] = _top_of(stage)
    return values


def _top_of(stage: Stage) -> float:
    lowest = Deal.objects.filter(stage=stage).aggregate(models.Min("board_position"))["board_position__min"]
    return (lowest or 0) - 1024


def default_pipeline() -> Pipeline:
    pipeline = Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.filter(is_active=True).first()
    if pipeline is None:
        pipeline = create_pipeline(name=str(_("Sales")), is_default=True)
    return pipeline


@transaction.atomic
def create_pipeline(*, name: str, is_default: bool = False, stages: list[dict] | None = None,
                    allowed_roles=()) -> Pipeline:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Give the pipeline a name.")]})
    if is_default:
        Pipeline.objects.filter(is_default=True).update(is_default=False)
    else:
        is_default = not Pipeline.objects.filter(is_default=True).exists()  # the first pipeline is the default
    position = (Pipeline.objects.aggregate(models.Max("position"))["position__max"] or 0) + 1
    pipeline = Pipeline.objects.create(name=name, is_default=is_default, position=position)
    pipeline.allowed_roles.set(allowed_roles)
    if stages is None:
        # The default stages are known to be valid: one insert (this runs on the signup path).
        Stage.objects.bulk_create([Stage(pipeline=pipeline, name=str(label), probability=probability, kind=kind,
                                         color=color, position=position)
                                   for position, (label, probability, kind, color) in enumerate(DEFAULT_STAGES)])
        return pipeline
    for index, stage in enumerate(stages):
        add_stage(pipeline=pipeline, position=index, **stage)
    return pipeline


def _validate_stage(stage: Stage) -> None:
    try:
        stage.full_clean(exclude=["pipeline"])
    except ValidationError as error:
        raise ValidationError(error.message_dict) from None
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", stage.color or ""):
        raise ValidationError({"color": [_("Give the colour as #rrggbb, e.g. #4f7cff.")]})
    unknown = [name for name in stage.required_fields if not _deal_field_exists(name)]
    if unknown:
        raise ValidationError({"required_fields": [
            _("Unknown deal field: %(fields)s.") % {"fields": ", ".join(unknown)}]})


def _deal_field_exists(name: str) -> bool:
    if name.startswith("custom."):
        from crm.core.models import CustomField

        return CustomField.objects.filter(entity="deal", code=name.removeprefix("custom.")).exists()
    return name in {field.name for field in Deal._meta.get_fields()} - {"id", "search_text", "custom"}


@transaction.atomic
def add_stage(*, pipeline: Pipeline, name: str, probability: int = 0, kind: str = StageKind.OPEN,
              color: str = "#4f7cff", required_fields: list[str] | None = None, position: int | None = None) -> Stage:
    if position is None:
        position = (pipeline.stages.aggregate(models.Max("position"))["position__max"] or 0) + 1
    stage = Stage(pipeline=pipeline, name=(name or "").strip(), probability=probability, kind=kind, color=color,
                  required_fields=list(required_fields or []), position=position)
    _validate_stage(stage)
    stage.save()
    return stage


@transaction.atomic
def update_stage(*, stage: Stage, **values) -> Stage:
    allowed = {"name", "probability", "kind", "color", "required_fields"}
    unknown = set(values) - allowed
    if unknown:
        raise ValidationError({name: [_("This field does not exist or cannot be changed.")] for name in unknown})
    for name, value in values.items():
        setattr(stage, name, value)
    _validate_stage(stage)
    stage.save()
    return stage


@transaction.atomic
def reorder_stages(*, pipeline: Pipeline, stage_ids: list[int]) -> None:
    known = set(pipeline.stages.values_list("pk", flat=True))
    if set(stage_ids) != known:
        raise ValidationError({"stages": [_("Give every stage of the pipeline exactly once.")]})
    for position, pk in enumerate(stage_ids):
        Stage.objects.filter(pk=pk).update(position=position)


@transaction.atomic
def delete_stage(*, stage: Stage, move_deals_to: Stage | None = None) -> None:
    """A stage with deals can go only when its deals move to another stage of the same pipeline."""
    deals = Deal.objects.filter(stage=stage)
    if deals.exists():
        if move_deals_to is None or move_deals_to.pipeline_id != stage.pipeline_id or move_deals_to == stage:
            raise ValidationError({"move_deals_to": [
                _("The stage “%(stage)s” has %(count)d deals; choose another stage of this pipeline for them.")
                % {"stage": stage.name, "count": deals.count()}]})
        _move_all(deals, stage, move_deals_to)
    if stage.pipeline.stages.count() <= 1:
        raise ValidationError({"stage": [_("A pipeline needs at least one stage.")]})
    stage.delete()


def _move_all(deals: models.QuerySet, old: Stage, new: Stage) -> None:
    """Every deal of a stage that is going away moves to another, each with its history line and the
    new stage's probability (one statement each, whatever the number of deals)."""
    from crm.core.history import record_changes

    now = timezone.now()
    for deal in deals.only("pk"):
        record_changes(actor=None, entity="deal", record=deal, before={"stage": old.name}, after={"stage": new.name})
    deals.update(stage=new, probability=new.probability, stage_changed_at=now,
                 closed_at=now if new.is_closed else None)


@transaction.atomic
def update_pipeline(*, pipeline: Pipeline, name: str | None = None, is_active: bool | None = None,
                    is_default: bool | None = None, allowed_roles=None) -> Pipeline:
    if name is not None:
        if not name.strip():
            raise ValidationError({"name": [_("Give the pipeline a name.")]})
        pipeline.name = name.strip()
    if is_active is not None:
        pipeline.is_active = is_active
    if is_default:
        Pipeline.objects.exclude(pk=pipeline.pk).filter(is_default=True).update(is_default=False)
        pipeline.is_default = True
    pipeline.save()
    if allowed_roles is not None:
        pipeline.allowed_roles.set(allowed_roles)
    return pipeline


def move_deal(*, actor, deal: Deal, stage: Stage, values: dict | None = None,
              after: Deal | None = None) -> Deal:
    """Move a deal to a stage (of any pipeline), asking for what that stage requires; ``after`` places
    the card below another card of the column (kanban)."""
    values = dict(values or {}) | {"stage": stage.pk, "pipeline": stage.pipeline_id}
    same_stage = deal.stage_id == stage.pk
    deal = records.update_record(actor=actor, record=deal, values=values)
    if after is None and same_stage:
        # Within its own column, no card above means the top of the column.
        Deal.objects.filter(pk=deal.pk).update(board_position=_top_of(stage))
    if after is not None and after.stage_id == stage.pk:
        following = (Deal.objects.filter(stage=stage, board_position__gt=after.board_position)
                     .order_by("board_position").values_list("board_position", flat=True).first())
        position = (after.board_position + following) / 2 if following is not None else after.board_position + 1024
        Deal.objects.filter(pk=deal.pk).update(board_position=position)
        deal.board_position = position
    return deal
