"""Calls, meetings, notes and comments over the REST API (``/api/v1/activities/``). Whoever may read
a record sees and adds its activities; the services decide who may change them."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from crm.activities import services as activities
from crm.activities.models import Activity
from crm.core import selectors
from crm.core.api import ApiViewMixin, IdField, RecordCursorPagination, SummaryField
from crm.core.registry import record_type, record_types


class ActivitySerializer(serializers.ModelSerializer):
    entity = serializers.ChoiceField(choices=[])
    record_id = serializers.IntegerField(min_value=1)
    author = IdField(read_only=True)
    author_summary = SummaryField("author")

    class Meta:
        model = Activity
        fields = ["id", "kind", "entity", "record_id", "subject", "body", "direction", "starts_at", "ends_at",
                  "location", "outcome", "is_done", "author", "author_summary", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]

    def get_fields(self):
        fields = super().get_fields()
        fields["entity"].choices = [rt.code for rt in record_types()]
        if self.partial:
            for name in ("kind", "entity", "record_id"):
                fields[name].read_only = True
        return fields

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                message = _("This field does not exist or cannot be changed.")
                raise serializers.ValidationError({name: [message] for name in unknown})
        return super().to_internal_value(data)


class ActivityViewSet(ApiViewMixin, viewsets.GenericViewSet):
    serializer_class = ActivitySerializer
    pagination_class = RecordCursorPagination
    lookup_value_converter = "int"
    error_model = Activity

    def get_queryset(self):
        return Activity.objects.none()

    def cursor_ordering(self) -> list:
        return ["-created_at", "-id"]

    def _activity(self, pk) -> Activity:
        """An activity of a record the caller may read, or 404."""
        activity = (Activity.objects.filter(pk=pk, deleted_at__isnull=True).select_related("author__user").first()
                    if str(pk).isdigit() else None)
        if activity is None:
            raise Http404(_("No such activity, or you may not see it."))
        selectors.record_for(self.actor, activity.entity, activity.record_id, include_deleted=True)
        return activity

    @extend_schema(parameters=[
        OpenApiParameter("entity", str, required=True, description="The record type, e.g. deal."),
        OpenApiParameter("record_id", int, required=True, description="The record's id.")])
    def list(self, request: Request) -> Response:
        entity, record_id = request.query_params.get("entity", ""), request.query_params.get("record_id", "")
        errors = {}
        try:
            record_type(entity)
        except LookupError:
            errors["entity"] = [_("Say which record type: ?entity=deal, contact, …")]
        if not record_id.isdigit():
            errors["record_id"] = [_("Give the id of the record: ?record_id=…")]
        if errors:
            raise ValidationError(errors)
        record = selectors.record_for(self.actor, entity, record_id, include_deleted=True)
        queryset = Activity.objects.filter(entity=entity, record_id=record.pk, deleted_at__isnull=True)
        page = self.paginate_queryset(queryset.select_related("author__user"))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, pk=None) -> Response:
        return Response(self.get_serializer(self._activity(pk)).data)

    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        activity = activities.add_activity(actor=self.actor, entity=values.pop("entity"),
                                           record_id=values.pop("record_id"), kind=values.pop("kind"), **values)
        return Response(self.get_serializer(activity).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        activity = self._activity(pk)
        serializer = self.get_serializer(activity, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        activity = activities.update_activity(actor=self.actor, activity=activity, **serializer.validated_data)
        return Response(self.get_serializer(activity).data)

    def destroy(self, request: Request, pk=None) -> Response:
        activities.delete_activity(actor=self.actor, activity=self._activity(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
