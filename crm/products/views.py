"""Pages of the products catalogue and of a deal's products; list and record pages are the generic ones."""

from __future__ import annotations

import mimetypes

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from crm.core import selectors
from crm.products import services
from crm.products.models import UNITS, VAT_CHOICES, DealProduct
from identity.members import permissions


def _errors(error: ValidationError) -> dict[str, list[str]]:
    return error.message_dict if hasattr(error, "error_dict") else {"general": error.messages}


@login_required
def photo(request: HttpRequest, pk: int) -> HttpResponse:
    """Upload or replace a product's photo (JPEG or PNG; scaled down to 1200×1200 px at most)."""
    product = selectors.record_for(request.member, "product", pk, action="edit")
    errors = {}
    if request.method == "POST":
        try:
            services.set_product_photo(actor=request.member, product=product, upload=request.FILES.get("photo"))
        except ValidationError as error:
            errors = _errors(error)
        else:
            return redirect(f"/crm/products/{product.pk}/")
    return render(request, "products/photo.html", {"product": product, "errors": errors},
                  status=400 if errors else 200)


@login_required
def photo_file(request: HttpRequest, pk: int) -> HttpResponse:
    """The photo, to people who may read the product, from this portal's prefix only."""
    product = selectors.record_for(request.member, "product", pk)
    if not product.photo or not product.photo.startswith(services.photo_prefix()) or ".." in product.photo:
        raise Http404
    if not default_storage.exists(product.photo):
        raise Http404
    response = FileResponse(default_storage.open(product.photo, "rb"),
                            content_type=mimetypes.guess_type(product.photo)[0] or "application/octet-stream")
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _panel_context(request: HttpRequest, deal, errors=None, values=None) -> dict:
    lines = list(DealProduct.objects.filter(deal=deal).select_related("product").order_by("position", "id"))
    totals = services.document_totals([(line.vat_rate, line.amounts()) for line in lines])
    can_edit = not deal.is_deleted and permissions.can(request.member, "deal", "edit", owner=deal.owner)
    catalogue = (list(selectors.records(request.member, "product").filter(is_active=True)
                      .order_by("name", "id").values("id", "name", "price", "currency")[:500]) if can_edit else [])
    return {"deal": deal, "lines": [(line, line.amounts()) for line in lines], "totals": totals,
            "can_edit": can_edit, "catalogue": catalogue, "errors": errors or {}, "values": values or {},
            "vat_choices": VAT_CHOICES, "units": UNITS}


def _panel(request: HttpRequest, deal, *, status: int = 200, errors=None, values=None) -> HttpResponse:
    template = "products/deal_products.html" if request.htmx else "products/deal_products_page.html"
    return render(request, template, _panel_context(request, deal, errors, values), status=status)


@login_required
def deal_products(request: HttpRequest, pk: int) -> HttpResponse:
    """The deal's products: GET the panel, POST a new line (a catalogue product or free text)."""
    deal = selectors.record_for(request.member, "deal", pk, action="edit" if request.method == "POST" else "read")
    if request.method == "POST":
        values = {name: request.POST.get(name, "") for name in
                  ("product", "name", "quantity", "unit", "unit_price", "discount_percent", "vat_rate")}
        values = {name: value for name, value in values.items() if value != ""}
        try:
            services.add_deal_product(actor=request.member, deal=deal, values=values,
                                      recalculate=request.POST.get("recalculate") == "1")
        except ValidationError as error:
            return _panel(request, deal, status=400, errors=_errors(error), values=request.POST)
        if not request.htmx:
            return redirect(f"/crm/deals/{deal.pk}/")
        deal.refresh_from_db()
    return _panel(request, deal)


@login_required
@require_POST
def remove_deal_product(request: HttpRequest, pk: int, line_id: int) -> HttpResponse:
    deal = selectors.record_for(request.member, "deal", pk, action="edit")
    line = get_object_or_404(DealProduct, pk=line_id, deal=deal)
    try:
        services.remove_deal_product(actor=request.member, line=line,
                                     recalculate=request.POST.get("recalculate") == "1")
    except ValidationError as error:
        return _panel(request, deal, status=400, errors=_errors(error))
    if not request.htmx:
        return redirect(f"/crm/deals/{deal.pk}/")
    deal.refresh_from_db()
    return _panel(request, deal)


