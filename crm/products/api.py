"""Products over the REST API (``/api/v1/products/``) and a deal's products
(``/api/v1/deals/<id>/products/``)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.core import selectors
from crm.core.api import ApiViewMixin, IdField, RecordSerializer, RecordViewSet
from crm.products import services
from crm.products.models import DealProduct, Product


class ProductSerializer(RecordSerializer):
    entity = "product"
    photo = serializers.CharField(read_only=True)

    class Meta(RecordSerializer.Meta):
        model = Product
        fields = [*RecordSerializer.COMMON, "name", "sku", "price", "currency", "vat_rate", "unit", "description",
                  "is_active", "photo"]


class ProductViewSet(RecordViewSet):
    code = "product"
    serializer_class = ProductSerializer


class LineSerializer(serializers.Serializer):
    """A priced line: a catalogue product (its name, unit, price and VAT are the defaults) or free text."""

    id = serializers.IntegerField(read_only=True)
    product = IdField(required=False)
    name = serializers.CharField(required=False, allow_blank=True, max_length=250)
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3, required=False)
    unit = serializers.CharField(required=False, allow_blank=True, max_length=20)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    discount_percent = serializers.DecimalField(max_digits=5, decimal_places=2, required=False)
    vat_rate = serializers.CharField(required=False, max_length=4)
    position = serializers.IntegerField(required=False, min_value=0)
    net = serializers.SerializerMethodField()
    vat = serializers.SerializerMethodField()
    gross = serializers.SerializerMethodField()

    def get_net(self, line) -> str:
        return str(line.amounts().net)

    def get_vat(self, line) -> str:
        return str(line.amounts().vat)

    def get_gross(self, line) -> str:
        return str(line.amounts().gross)


def _recalculate(request: Request) -> bool:
    value = request.query_params.get("recalculate")
    if value is None and request.method in ("POST", "PATCH") and hasattr(request.data, "get"):
        value = request.data.get("recalculate")
    return str(value or "").lower() in ("1", "true", "yes")


def _clean(data) -> dict:
    body = {key: value for key, value in dict(data).items() if key != "recalculate"}
    serializer = LineSerializer(data=body, partial=True)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class DealProductsView(ApiViewMixin, APIView):
    """GET the deal's products with their amounts; POST a line (``recalculate``: set the deal's value
    to the lines' net total)."""

    error_model = DealProduct

    @extend_schema(responses=LineSerializer(many=True))
    def get(self, request: Request, deal_id: int) -> Response:
        deal = selectors.record_for(self.actor, "deal", deal_id)
        lines = DealProduct.objects.filter(deal=deal).order_by("position", "id")
        totals = services.document_totals([(line.vat_rate, line.amounts()) for line in lines])
        return Response({"results": LineSerializer(lines, many=True).data,
                         "totals": {"net": str(totals.net), "vat": str(totals.vat), "gross": str(totals.gross),
                                    "currency": deal.currency}})

    @extend_schema(request=LineSerializer, responses=LineSerializer)
    def post(self, request: Request, deal_id: int) -> Response:
        deal = selectors.record_for(self.actor, "deal", deal_id, action="edit")
        line = services.add_deal_product(actor=self.actor, deal=deal, values=_clean(request.data),
                                         recalculate=_recalculate(request))
        return Response(LineSerializer(line).data, status=status.HTTP_201_CREATED)


class DealProductView(ApiViewMixin, APIView):
    error_model = DealProduct

    def line(self, deal_id: int, pk: int, action: str) -> DealProduct:
        deal = selectors.record_for(self.actor, "deal", deal_id, action=action)
        return get_object_or_404(DealProduct.objects.select_related("deal"), pk=pk, deal=deal)

    @extend_schema(responses=LineSerializer)
    def get(self, request: Request, deal_id: int, pk: int) -> Response:
        return Response(LineSerializer(self.line(deal_id, pk, "read")).data)

    @extend_schema(request=LineSerializer, responses=LineSerializer)
    def patch(self, request: Request, deal_id: int, pk: int) -> Response:
        line = services.update_deal_product(actor=self.actor, line=self.line(deal_id, pk, "edit"),
                                            values=_clean(request.data), recalculate=_recalculate(request))
        return Response(LineSerializer(line).data)

    def delete(self, request: Request, deal_id: int, pk: int) -> Response:
        services.remove_deal_product(actor=self.actor, line=self.line(deal_id, pk, "edit"),
                                     recalculate=_recalculate(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
