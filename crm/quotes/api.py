"""Quotes over the REST API: ``/api/v1/quotes/`` (the generic record endpoints) with the items and
totals in each answer, ``POST …/<id>/send/``, ``GET …/<id>/pdf/`` and ``POST …/<id>/lines/``."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm.core.api import IdField, RecordSerializer, RecordViewSet, SummaryField
from crm.products.api import LineSerializer, _clean
from crm.quotes import services
from crm.quotes.models import Quote, QuoteLine


class QuoteSerializer(RecordSerializer):
    entity = "quote"
    deal = IdField()
    deal_summary = SummaryField("deal")
    company = IdField()
    company_summary = SummaryField("company")
    contact = IdField()
    contact_summary = SummaryField("contact")
    template = IdField()
    lines = serializers.SerializerMethodField()
    totals = serializers.SerializerMethodField()
    public_url = serializers.SerializerMethodField()

    class Meta(RecordSerializer.Meta):
        model = Quote
        fields = [*RecordSerializer.COMMON, "number", "title", "deal", "deal_summary", "company", "company_summary",
                  "contact", "contact_summary", "client", "currency", "discount_percent", "valid_until",
                  "payment_terms", "delivery_terms", "notes", "template", "status", "sent_at", "sent_to",
                  "first_opened_at", "last_opened_at", "open_count", "seconds_viewed", "decided_at",
                  "decision_comment", "lines", "totals", "public_url"]
        read_only_fields = ("id", "created_at", "updated_at", "deleted_at", "number", "client", "status", "sent_at",
                            "sent_to", "first_opened_at", "last_opened_at", "open_count", "seconds_viewed",
                            "decided_at", "decision_comment")

    def get_lines(self, quote) -> list[dict]:
        return LineSerializer(quote.lines.all(), many=True).data

    def get_totals(self, quote) -> dict:
        t = services.totals_of(quote).totals
        return {"net": str(t.net), "vat": str(t.vat), "gross": str(t.gross),
                "by_rate": [{"vat_rate": row.vat_rate, "net": str(row.net), "vat": str(row.vat),
                             "gross": str(row.gross)} for row in t.by_rate]}

    def get_public_url(self, quote) -> str:
        if quote.status == "draft":
            return ""
        request = self.context.get("request")
        path = services.public_path(quote)
        return request.build_absolute_uri(path) if request is not None else path


class SendSerializer(serializers.Serializer):
    to = serializers.EmailField(required=False, allow_blank=True,
                                help_text="Where to send it; the contact's e-mail when left out.")
    message = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class QuoteViewSet(RecordViewSet):
    code = "quote"
    serializer_class = QuoteSerializer
    extra_select_related = ("deal", "company", "contact")

    def get_queryset(self):
        return super().get_queryset().prefetch_related("lines", "costs")

    def create(self, request: Request) -> Response:
        """A new draft; given a ``deal``, its products become the items."""
        values = self.validated(request.data)
        if values.get("deal"):
            deal = self.record_of("deal", values["deal"])
            quote = services.create_from_deal(actor=self.actor, deal=deal,
                                              values={k: v for k, v in values.items() if k != "deal"})
        else:
            from crm.core import services as records

            quote = records.create_record(actor=self.actor, code="quote", values=values)
        return Response(self.represent(quote), status=status.HTTP_201_CREATED)

    def record_of(self, code: str, pk):
        from crm.core import selectors

        return selectors.record_for(self.actor, code, pk)

    @extend_schema(request=SendSerializer, responses=QuoteSerializer)
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk=None) -> Response:
        quote = self.record(pk, action="edit")
        body = self.validated(request.data, serializer_class=SendSerializer)
        quote = services.send_quote(actor=self.actor, quote=quote, to=body.get("to", ""),
                                    message=body.get("message", ""), base_url=request.build_absolute_uri("/"))
        return Response(self.represent(quote))

    @extend_schema(responses={(200, "application/pdf"): bytes})
    @action(detail=True, methods=["get"])
    def pdf(self, request: Request, pk=None) -> HttpResponse:
        quote = self.record(pk)
        response = HttpResponse(services.render_pdf(quote), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{services.pdf_filename(quote)}"'
        return response

    @extend_schema(request=LineSerializer, responses=LineSerializer)
    @action(detail=True, methods=["post"])
    def lines(self, request: Request, pk=None) -> Response:
        line = services.add_line(actor=self.actor, quote=self.record(pk, action="edit"), values=_clean(request.data))
        return Response(LineSerializer(line).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=None)
    @action(detail=True, methods=["delete"], url_path=r"lines/(?P<line_id>\d+)")
    def remove_line(self, request: Request, pk=None, line_id=None) -> Response:
        quote = self.record(pk, action="edit")
        services.remove_line(actor=self.actor, line=get_object_or_404(QuoteLine, pk=line_id, quote=quote))
        return Response(status=status.HTTP_204_NO_CONTENT)
