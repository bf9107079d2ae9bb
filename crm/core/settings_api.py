"""The CRM's portal settings over the API: custom fields, lists of values (sources, source
categories, contact types, industries) and pipelines with their stages. Everyone in the portal
may read them (forms and filters need them); only administrators change them."""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from rest_framework import permissions as drf_permissions
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.core import custom_fields
from crm.core.models import CustomField, FieldType
from crm.deals import services as deals
from crm.deals.models import Pipeline, Stage, StageKind
from crm.dictionaries import services as dictionaries
from crm.dictionaries.models import Choice, ChoiceKind
from identity.members.authentication import principal_of
from identity.members.models import Role


class AdministratorsChange(drf_permissions.BasePermission):
    def has_permission(self, request: Request, view) -> bool:
        principal = principal_of(request)
        if principal is None:
            return False
        if request.method in drf_permissions.SAFE_METHODS or principal.has_admin_rights:
            return True
        raise PermissionDenied(_("Only the portal's administrators can change its settings."))


class SettingsView(APIView):
    permission_classes = [drf_permissions.IsAuthenticated, AdministratorsChange]

    def validated(self, serializer_class, data, *, partial: bool = False) -> dict:
        serializer = serializer_class(data=data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


# --- Custom fields ------------------------------------------------------------------------------

class CustomFieldSerializer(serializers.ModelSerializer):
    entity = serializers.CharField()
    field_type = serializers.ChoiceField(choices=FieldType.choices)
    options = serializers.ListField(child=serializers.CharField(max_length=120), required=False)
    default = serializers.JSONField(required=False, allow_null=True)

    class Meta:
        model = CustomField
        fields = ["id", "entity", "code", "label", "field_type", "options", "required", "default", "help_text",
                  "position", "is_active"]
        read_only_fields = ["id"]
        extra_kwargs = {"code": {"validators": []}}
        # Uniqueness of the code is the service's rule (it names the field); DRF's would demand both keys.
        validators = []


class CustomFieldList(SettingsView):
    def get(self, request: Request) -> Response:
        fields = CustomField.objects.all()
        if request.query_params.get("entity"):
            fields = fields.filter(entity=request.query_params["entity"])
        return Response(CustomFieldSerializer(fields, many=True).data)

    def post(self, request: Request) -> Response:
        values = self.validated(CustomFieldSerializer, request.data)
        values.pop("is_active", None)
        field = custom_fields.create_custom_field(**values)
        return Response(CustomFieldSerializer(field).data, status=status.HTTP_201_CREATED)


class CustomFieldDetail(SettingsView):
    def get(self, request: Request, pk: int) -> Response:
        return Response(CustomFieldSerializer(get_object_or_404(CustomField, pk=pk)).data)

    def patch(self, request: Request, pk: int) -> Response:
        field = get_object_or_404(CustomField, pk=pk)
        values = self.validated(CustomFieldSerializer, request.data, partial=True)
        field = custom_fields.update_custom_field(field=field, **values)
        return Response(CustomFieldSerializer(field).data)

    def delete(self, request: Request, pk: int) -> Response:
        custom_fields.delete_custom_field(field=get_object_or_404(CustomField, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Lists of values ----------------------------------------------------------------------------

class ChoiceSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=ChoiceKind.choices)
    category = serializers.PrimaryKeyRelatedField(queryset=Choice.objects.filter(kind=ChoiceKind.SOURCE_CATEGORY),
                                                  required=False, allow_null=True)

    class Meta:
        model = Choice
        fields = ["id", "kind", "name", "category", "position", "is_active"]
        read_only_fields = ["id"]
        validators = []


class ChoiceList(SettingsView):
    def get(self, request: Request) -> Response:
        choices = Choice.objects.all()
        if request.query_params.get("kind"):
            choices = choices.filter(kind=request.query_params["kind"])
        return Response(ChoiceSerializer(choices, many=True).data)

    def post(self, request: Request) -> Response:
        values = self.validated(ChoiceSerializer, request.data)
        choice = dictionaries.create_choice(kind=values["kind"], name=values["name"],
                                            category=values.get("category"), position=values.get("position"))
        return Response(ChoiceSerializer(choice).data, status=status.HTTP_201_CREATED)


class ChoiceDetail(SettingsView):
    def get(self, request: Request, pk: int) -> Response:
        choice = get_object_or_404(Choice, pk=pk)
        return Response(ChoiceSerializer(choice).data | {"used_by": dictionaries.usage_of(choice)})

    def patch(self, request: Request, pk: int) -> Response:
        choice = get_object_or_404(Choice, pk=pk)
        values = self.validated(ChoiceSerializer, request.data, partial=True)
        values.pop("kind", None)
        choice = dictionaries.update_choice(choice=choice, **values)
        return Response(ChoiceSerializer(choice).data)

    def delete(self, request: Request, pk: int) -> Response:
        """``?replacement=<id>`` names the value that takes over the records using this one."""
        choice = get_object_or_404(Choice, pk=pk)
        replacement_id = request.query_params.get("replacement") or request.data.get("replacement")
        replacement = get_object_or_404(Choice, pk=replacement_id) if replacement_id else None
        moved = dictionaries.delete_choice(choice=choice, replacement=replacement, actor=principal_of(request))
        return Response({"moved": moved})


# --- Pipelines and stages -------------------------------------------------------------------------

class StageSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=StageKind.choices, required=False)
    required_fields = serializers.ListField(child=serializers.CharField(max_length=80), required=False)

    class Meta:
        model = Stage
        fields = ["id", "name", "position", "probability", "kind", "color", "required_fields"]
        read_only_fields = ["id", "position"]


class PipelineSerializer(serializers.ModelSerializer):
    stages = StageSerializer(many=True, required=False)
    allowed_roles = serializers.PrimaryKeyRelatedField(many=True, queryset=Role.objects.all(), required=False)

    class Meta:
        model = Pipeline
        fields = ["id", "name", "position", "is_active", "is_default", "allowed_roles", "stages"]
        read_only_fields = ["id", "position"]




def _pipelines_for(request: Request):
    """Administrators manage every pipeline, switched off or limited to roles; others see theirs."""
    principal = principal_of(request)
    pipelines = Pipeline.objects.all() if principal.has_admin_rights else deals.pipelines_for(principal)
    return pipelines.prefetch_related("stages", "allowed_roles")


class PipelineAdminList(SettingsView):
    def get(self, request: Request) -> Response:
        return Response(PipelineSerializer(_pipelines_for(request), many=True).data)

    @transaction.atomic
    def post(self, request: Request) -> Response:
        values = self.validated(PipelineSerializer, request.data)
        stages = [dict(stage) for stage in values.get("stages", [])] or None
        pipeline = deals.create_pipeline(name=values["name"], is_default=values.get("is_default", False),
                                         stages=stages, allowed_roles=values.get("allowed_roles", ()))
        return Response(PipelineSerializer(pipeline).data, status=status.HTTP_201_CREATED)


class PipelineAdminDetail(SettingsView):
    def patch(self, request: Request, pk: int) -> Response:
        pipeline = get_object_or_404(Pipeline, pk=pk)
        values = self.validated(PipelineSerializer, request.data, partial=True)
        values.pop("stages", None)
        pipeline = deals.update_pipeline(pipeline=pipeline, **values)
        return Response(PipelineSerializer(pipeline).data)


class StageOrder(SettingsView):
    def post(self, request: Request, pk: int) -> Response:
        pipeline = get_object_or_404(Pipeline, pk=pk)
        deals.reorder_stages(pipeline=pipeline, stage_ids=[int(pk) for pk in request.data.get("stages", [])])
        return Response(PipelineSerializer(pipeline).data)


class StageList(SettingsView):
    def post(self, request: Request, pk: int) -> Response:
        pipeline = get_object_or_404(Pipeline, pk=pk)
        values = self.validated(StageSerializer, request.data)
        stage = deals.add_stage(pipeline=pipeline, **values)
        return Response(StageSerializer(stage).data, status=status.HTTP_201_CREATED)


class StageDetail(SettingsView):
    def patch(self, request: Request, pk: int) -> Response:
        stage = get_object_or_404(Stage, pk=pk)
        values = self.validated(StageSerializer, request.data, partial=True)
        return Response(StageSerializer(deals.update_stage(stage=stage, **values)).data)

    def delete(self, request: Request, pk: int) -> Response:
        """``?move_deals_to=<stage id>`` when the stage still has deals."""
        stage = get_object_or_404(Stage, pk=pk)
        target_id = request.query_params.get("move_deals_to")
        target = get_object_or_404(Stage, pk=target_id) if target_id else None
        deals.delete_stage(stage=stage, move_deals_to=target)
        return Response(status=status.HTTP_204_NO_CONTENT)
