"""Deals over the REST API (``/api/v1/deals/``, moving between stages) and the pipelines a caller
may work in (``/api/v1/pipelines/``, read only; settings change them)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm.core.api import ApiViewMixin, IdField, IdListField, RecordSerializer, RecordViewSet, SummaryField
from crm.deals import services as deals
from crm.deals.models import Deal, Pipeline, Stage
from identity.members import permissions


class DealSerializer(RecordSerializer):
    entity = "deal"
    pipeline = IdField()
    pipeline_summary = SummaryField("pipeline")
    stage = IdField()
    stage_summary = SummaryField("stage")
    company = IdField()
    company_summary = SummaryField("company")
    contacts = IdListField()
    lead = IdField(read_only=True)
    source = IdField()
    source_summary = SummaryField("source")

    class Meta(RecordSerializer.Meta):
        model = Deal
        fields = [*RecordSerializer.COMMON, "title", "value", "currency", "pipeline", "pipeline_summary", "stage",
                  "stage_summary", "probability", "expected_close_date", "closed_at", "stage_changed_at", "company",
                  "company_summary", "contacts", "lead", "source", "source_summary", "lost_reason", "description"]


class MoveSerializer(serializers.Serializer):
    stage = serializers.IntegerField(min_value=1, help_text="The stage to move to (of any pipeline open to you).")
    values = serializers.DictField(required=False, help_text="Deal fields the stage requires, set in the same step.")
    after = serializers.IntegerField(min_value=1, required=False, allow_null=True,
                                     help_text="Place the deal below this deal of the same stage (kanban order).")


class DealViewSet(RecordViewSet):
    code = "deal"
    serializer_class = DealSerializer
    m2m = ("contacts",)

    @extend_schema(request=MoveSerializer, responses=DealSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk=None) -> Response:
        """Move the deal to a stage; a stage's required fields come in ``values`` (400 naming each one
        that is missing)."""
        deal = self.record(pk, action="edit")
        body = self.validated(request.data, serializer_class=MoveSerializer)
        stage = Stage.objects.select_related("pipeline").filter(pk=body["stage"]).first()
        if stage is None:
            raise ValidationError({"stage": [_("Choose a stage of a pipeline.")]})
        after = None
        if body.get("after"):
            try:
                after = self.record(body["after"])
            except Http404:
                raise ValidationError({"after": [_("No such deal, or you may not see it.")]}) from None
        values = self.validated(body.get("values") or {}, partial=True)
        moved = deals.move_deal(actor=self.actor, deal=deal, stage=stage, values=values, after=after)
        return Response(self.represent(moved))


class StageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Stage
        fields = ["id", "name", "position", "probability", "kind", "color", "required_fields"]


class PipelineSerializer(serializers.ModelSerializer):
    stages = StageSerializer(many=True, read_only=True)

    class Meta:
        model = Pipeline
        fields = ["id", "name", "position", "is_default", "stages"]


class PipelineViewSet(ApiViewMixin, viewsets.ReadOnlyModelViewSet):
    """The active pipelines the caller may work in, each with its stages in order."""

    serializer_class = PipelineSerializer
    pagination_class = None
    lookup_value_converter = "int"
    error_model = Pipeline

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Pipeline.objects.none()
        actor = self.actor
        if not permissions.can(actor, "deal", "read", creating=True):
            raise permissions.NotPermitted(entity_code="deal", action="read")
        return deals.pipelines_for(actor).prefetch_related("stages").order_by("position", "id")
