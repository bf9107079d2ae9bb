"""The sales flow over the API: converting a lead, registering an interaction (the public entry
point for forms, e-mail, calls and integrations), the weighted forecast, recurring leads."""

from __future__ import annotations

from django.db.models import Q
from django.shortcuts import get_object_or_404
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.core import selectors
from crm.core.api import ApiViewMixin
from crm.deals.models import Pipeline
from crm.leads.models import Lead
from crm.sales import selectors as sales_selectors
from crm.sales import services
from crm.sales.models import Frequency, RecurringLead
from identity.members import permissions


class TargetField(serializers.Field):
    """An existing record's id, "new", or null."""

    def to_internal_value(self, data):
        if data in (None, ""):
            return None
        if data == "new":
            return "new"
        try:
            return int(data)
        except (TypeError, ValueError):
            raise serializers.ValidationError('Give an id, "new" or null.') from None

    def to_representation(self, value):
        return value


class DealValuesField(serializers.Field):
    def to_internal_value(self, data):
        if data in (None, ""):
            return None
        if data == "new" or isinstance(data, dict):
            return data
        raise serializers.ValidationError('Give "new", an object of deal values or null.')

    def to_representation(self, value):
        return value


class ConvertSerializer(serializers.Serializer):
    contact = TargetField(required=False, allow_null=True, default=None)
    company = TargetField(required=False, allow_null=True, default=None)
    deal = DealValuesField(required=False, allow_null=True, default=None)


def _summary(record, slug: str) -> dict | None:
    if record is None:
        return None
    return {"id": record.pk, "name": str(record), "url": f"/crm/{slug}/{record.pk}/"}


class ConvertLeadView(ApiViewMixin, APIView):
    error_model = Lead

    def post(self, request: Request, pk: int) -> Response:
        lead = selectors.record_for(self.actor, "lead", pk)
        serializer = ConvertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.convert_lead(actor=self.actor, lead=lead, **serializer.validated_data)
        return Response({"lead": {"id": result.lead.pk, "status": result.lead.status,
                                  "converted_at": result.lead.converted_at},
                         "contact": _summary(result.contact, "contacts"),
                         "company": _summary(result.company, "companies"),
                         "deal": _summary(result.deal, "deals")}, status=status.HTTP_201_CREATED)

    def get(self, request: Request, pk: int) -> Response:
        """The matches the conversion would offer instead of new records."""
        lead = selectors.record_for(self.actor, "lead", pk)
        found = services.conversion_matches(lead, actor=self.actor)
        return Response({
            "contacts": [{"id": m.record.pk, "name": str(m.record), "reasons": [str(r) for r in m.reasons]}
                         for m in found.contacts],
            "companies": [{"id": m.record.pk, "name": m.record.name, "nip": m.record.nip,
                           "reasons": [str(r) for r in m.reasons]} for m in found.companies]})


class InteractionSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=services.CHANNELS)
    summary = serializers.CharField(required=False, allow_blank=True, default="", max_length=10_000)
    contact = serializers.IntegerField(required=False, allow_null=True, default=None)
    contact_data = serializers.DictField(required=False, default=dict)


class InteractionView(ApiViewMixin, APIView):
    def post(self, request: Request) -> Response:
        serializer = InteractionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = services.register_interaction(actor=self.actor, **serializer.validated_data)
        body = {"outcome": result.outcome, "entity": result.entity, "id": result.record.pk,
                "contact": _summary(result.contact, "contacts")}
        if result.outcome == "attached":
            body |= {"entity": "activity", "attached_to": {"entity": result.record.entity,
                                                           "id": result.record.record_id}}
        return Response(body, status=status.HTTP_201_CREATED)


class ForecastView(ApiViewMixin, APIView):
    def get(self, request: Request) -> Response:
        group_by = request.query_params.get("group_by", "pipeline")
        if group_by not in sales_selectors.GROUPS:
            raise serializers.ValidationError({"group_by": ["Use pipeline, owner or month."]})
        pipeline = None
        if request.query_params.get("pipeline"):
            pipeline = get_object_or_404(Pipeline, pk=request.query_params["pipeline"])
        if not permissions.can(self.actor, "deal", "read", creating=True):
            raise permissions.NotPermitted(entity_code="deal", action="read")
        rows = sales_selectors.forecast(self.actor, group_by=group_by, pipeline=pipeline)
        return Response({"group_by": group_by, "results": [
            {"key": row.key, "label": row.label, "currency": row.currency,
             "month": row.month.strftime("%Y-%m") if row.month else None,
             "weighted": str(row.weighted), "total": str(row.total), "count": row.count} for row in rows]})


class RecurringLeadSerializer(serializers.ModelSerializer):
    contact = serializers.IntegerField(source="contact_id", required=False, allow_null=True)
    company = serializers.IntegerField(source="company_id", required=False, allow_null=True)
    owner = serializers.IntegerField(source="owner_id", required=False, allow_null=True)
    frequency = serializers.ChoiceField(choices=Frequency.choices)

    class Meta:
        model = RecurringLead
        fields = ["id", "contact", "company", "owner", "title_template", "frequency", "next_run", "active"]
        read_only_fields = ["id"]


def _visible_recurring(actor):
    return RecurringLead.objects.filter(Q(contact__in=selectors.records(actor, "contact").values("pk"))
                                        | Q(company__in=selectors.records(actor, "company").values("pk")))


class RecurringLeadList(ApiViewMixin, APIView):
    error_model = RecurringLead

    def get(self, request: Request) -> Response:
        items = _visible_recurring(self.actor).order_by("next_run", "id")[:500]
        return Response({"results": RecurringLeadSerializer(items, many=True).data})

    def post(self, request: Request) -> Response:
        serializer = RecurringLeadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = services.create_recurring_lead(actor=self.actor, values=dict(serializer.validated_data))
        return Response(RecurringLeadSerializer(item).data, status=status.HTTP_201_CREATED)


class RecurringLeadDetail(ApiViewMixin, APIView):
    error_model = RecurringLead

    def get(self, request: Request, pk: int) -> Response:
        return Response(RecurringLeadSerializer(get_object_or_404(_visible_recurring(self.actor), pk=pk)).data)

    def patch(self, request: Request, pk: int) -> Response:
        item = get_object_or_404(_visible_recurring(self.actor), pk=pk)
        serializer = RecurringLeadSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        item = services.update_recurring_lead(actor=self.actor, item=item, values=dict(serializer.validated_data))
        return Response(RecurringLeadSerializer(item).data)

    def delete(self, request: Request, pk: int) -> Response:
        item = get_object_or_404(_visible_recurring(self.actor), pk=pk)
        services.delete_recurring_lead(actor=self.actor, item=item)
        return Response(status=status.HTTP_204_NO_CONTENT)
