"""Invoices over the REST API (``/api/v1/invoices/``): the generic record endpoints with the lines
inside, and the workflow steps issue, send, pay, convert (pro-forma → VAT) and the PDF."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from crm.core.api import IdField, RecordSerializer, RecordViewSet, SummaryField
from crm.invoices import services
from crm.invoices.models import Frequency, Invoice, InvoiceLine
from crm.invoices.pdf import invoice_pdf


class InvoiceLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = ["name", "quantity", "unit", "unit_price", "discount_percent", "vat_rate"]
        extra_kwargs = {"quantity": {"required": False}, "unit": {"required": False},
                        "discount_percent": {"required": False}, "vat_rate": {"required": False}}


class InvoiceSerializer(RecordSerializer):
    entity = "invoice"
    company = IdField()
    company_summary = SummaryField("company")
    contact = IdField()
    contact_summary = SummaryField("contact")
    deal = IdField()
    deal_summary = SummaryField("deal")
    proforma = IdField(read_only=True)
    lines = InvoiceLineSerializer(many=True, required=False)

    class Meta(RecordSerializer.Meta):
        model = Invoice
        fields = [*RecordSerializer.COMMON, "kind", "number", "status", "issue_date", "sale_date",
                  "payment_term_days", "due_date", "company", "company_summary", "contact", "contact_summary", "deal",
                  "deal_summary", "buyer_name", "buyer_nip", "buyer_address", "buyer_email", "seller_name",
                  "seller_nip", "seller_address", "currency", "payment_method", "bank_account", "notes", "language",
                  "total_net", "total_vat", "total_gross", "amount_paid", "paid_at", "sent_at", "proforma", "lines"]
        read_only_fields = ("id", "created_at", "updated_at", "deleted_at", "number", "status", "seller_name",
                            "seller_nip", "seller_address", "total_net", "total_vat", "total_gross", "amount_paid",
                            "paid_at", "sent_at")
        validators: list = []  # the number is unique per kind; the services give it, never the caller


class SendSerializer(serializers.Serializer):
    to = serializers.EmailField(required=False, allow_blank=True)


class PaySerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)
    paid_at = serializers.DateTimeField(required=False, allow_null=True)


class RecurringSerializer(serializers.Serializer):
    frequency = serializers.ChoiceField(choices=Frequency.choices)
    next_issue_date = serializers.DateField()
    send_email = serializers.BooleanField(required=False, default=True)


class IssueSerializer(serializers.Serializer):
    issue_date = serializers.DateField(required=False, allow_null=True)


class InvoiceViewSet(RecordViewSet):
    code = "invoice"
    serializer_class = InvoiceSerializer
    extra_select_related = ("company", "contact", "deal", "proforma")

    def decorate(self, queryset):
        return super().decorate(queryset).prefetch_related("lines")

    def create(self, request: Request) -> Response:
        values = self.validated(request.data)
        lines = [dict(line) for line in values.pop("lines", [])]
        invoice = services.create_invoice(actor=self.actor, values=values, lines=lines)
        return Response(self.represent(invoice), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        invoice = self.record(pk, action="edit")
        values = self.validated(request.data, partial=True)
        lines = values.pop("lines", None)
        invoice = services.update_invoice(actor=self.actor, invoice=invoice, values=values,
                                          lines=[dict(line) for line in lines] if lines is not None else None)
        return Response(self.represent(invoice))

    @extend_schema(request=IssueSerializer)
    @action(detail=True, methods=["post"])
    def issue(self, request: Request, pk=None) -> Response:
        body = self.validated(request.data, serializer_class=IssueSerializer)
        invoice = services.issue_invoice(actor=self.actor, invoice=self.record(pk, action="edit"),
                                         issue_date=body.get("issue_date"))
        return Response(self.represent(invoice))

    @extend_schema(request=SendSerializer)
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk=None) -> Response:
        body = self.validated(request.data, serializer_class=SendSerializer)
        invoice = services.send_invoice(actor=self.actor, invoice=self.record(pk, action="edit"),
                                        to=body.get("to") or "")
        return Response(self.represent(invoice))

    @extend_schema(request=PaySerializer)
    @action(detail=True, methods=["post"])
    def pay(self, request: Request, pk=None) -> Response:
        body = self.validated(request.data, serializer_class=PaySerializer)
        invoice = services.mark_paid(actor=self.actor, invoice=self.record(pk, action="edit"),
                                     amount=body.get("amount"), paid_at=body.get("paid_at"))
        return Response(self.represent(invoice))

    @extend_schema(request=RecurringSerializer)
    @action(detail=True, methods=["post"])
    def recurring(self, request: Request, pk=None) -> Response:
        """Repeat this invoice: a copy is issued on ``next_issue_date`` and then every period."""
        body = self.validated(request.data, serializer_class=RecurringSerializer)
        plan = services.make_recurring(actor=self.actor, invoice=self.record(pk, action="edit"), **body)
        return Response({"id": plan.pk, "template": plan.template_id, "frequency": plan.frequency,
                         "next_issue_date": plan.next_issue_date, "send_email": plan.send_email,
                         "active": plan.active}, status=status.HTTP_201_CREATED)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def convert(self, request: Request, pk=None) -> Response:
        invoice = services.convert_proforma(actor=self.actor, proforma=self.record(pk))
        return Response(self.represent(invoice), status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/pdf"): bytes})
    @action(detail=True, methods=["get"])
    def pdf(self, request: Request, pk=None) -> HttpResponse:
        invoice = self.record(pk)
        response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{services.pdf_filename(invoice)}"'
        return response
