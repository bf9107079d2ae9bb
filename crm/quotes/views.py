"""Quote pages: create from a deal, items and costs, PDF preview, sending; and the client's online
view at ``/q/<signed token>/`` (anonymous, token only)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from crm.core import selectors
from crm.products.models import UNITS, VAT_CHOICES
from crm.quotes import services
from crm.quotes.models import Quote, QuoteCost, QuoteLine
from identity.members import permissions

LINE_INPUTS = ("product", "name", "quantity", "unit", "unit_price", "discount_percent", "vat_rate")


def _errors(error: ValidationError) -> dict[str, list[str]]:
    return error.message_dict if hasattr(error, "error_dict") else {"general": error.messages}


def _items_url(quote: Quote) -> str:
    return f"/crm/quotes/{quote.pk}/items/"


# --- On the deal page ------------------------------------------------------------------------------

@login_required
def deal_quotes(request: HttpRequest, pk: int) -> HttpResponse:
    """The deal's quotes with their status, and the button to make a new one."""
    deal = selectors.record_for(request.member, "deal", pk)
    quotes = list(selectors.records(request.member, "quote").filter(deal=deal).order_by("-created_at", "-id")[:20])
    context = {"deal": deal, "quotes": quotes,
               "can_create": not deal.is_deleted and permissions.can(request.member, "quote", "create",
                                                                     creating=True),
               "can_invoice": not deal.is_deleted and permissions.can(request.member, "invoice", "create",
                                                                      creating=True)}
    template = "quotes/deal_quotes.html" if request.htmx else "quotes/deal_quotes_page.html"
    return render(request, template, context)


@login_required
@require_POST
def create_for_deal(request: HttpRequest, pk: int) -> HttpResponse:
    deal = selectors.record_for(request.member, "deal", pk)
    try:
        quote = services.create_from_deal(actor=request.member, deal=deal)
    except ValidationError as error:
        return render(request, "quotes/deal_quotes_page.html",
                      {"deal": deal, "quotes": [], "errors": _errors(error), "can_create": True}, status=400)
    response = redirect(_items_url(quote))
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = _items_url(quote)
    return response


# --- Items, costs, PDF, sending ------------------------------------------------------------------

def _items_context(request: HttpRequest, quote: Quote, **extra) -> dict:
    lines = list(QuoteLine.objects.filter(quote=quote).order_by("position", "id"))
    costs = list(QuoteCost.objects.filter(quote=quote).order_by("position", "id"))
    editable = (not quote.is_deleted and quote.status not in services.DECIDED
                and permissions.can(request.member, "quote", "edit", owner=quote.owner))
    catalogue = (list(selectors.records(request.member, "product").filter(is_active=True)
                      .order_by("name", "id").values("id", "name", "price", "currency")[:500]) if editable else [])
    return {"quote": quote, "t": services.totals_of(quote, lines, costs), "editable": editable,
            "catalogue": catalogue, "vat_choices": VAT_CHOICES, "units": UNITS, "errors": {}, "values": {},
            "cost_errors": {}, "public_path": services.public_path(quote) if quote.status != "draft" else ""} | extra


@login_required
def items(request: HttpRequest, pk: int) -> HttpResponse:
    """The quote's items and extra costs with its totals; POST adds an item."""
    quote = selectors.record_for(request.member, "quote", pk, action="edit" if request.method == "POST" else "read")
    if request.method == "POST":
        values = {name: request.POST.get(name, "") for name in LINE_INPUTS}
        values = {name: value for name, value in values.items() if value != ""}
        try:
            services.add_line(actor=request.member, quote=quote, values=values)
        except ValidationError as error:
            return render(request, "quotes/items.html",
                          _items_context(request, quote, errors=_errors(error), values=request.POST), status=400)
        return redirect(_items_url(quote))
    return render(request, "quotes/items.html", _items_context(request, quote))


@login_required
@require_POST
def remove_item(request: HttpRequest, pk: int, line_id: int) -> HttpResponse:
    quote = selectors.record_for(request.member, "quote", pk, action="edit")
    line = get_object_or_404(QuoteLine, pk=line_id, quote=quote)
    try:
        services.remove_line(actor=request.member, line=line)
    except ValidationError as error:
        return render(request, "quotes/items.html", _items_context(request, quote, errors=_errors(error)), status=400)
    return redirect(_items_url(quote))


@login_required
@require_POST
def add_cost(request: HttpRequest, pk: int) -> HttpResponse:
    quote = selectors.record_for(request.member, "quote", pk, action="edit")
    try:
        services.add_cost(actor=request.member, quote=quote, name=request.POST.get("name", ""),
                          amount=request.POST.get("amount", ""), vat_rate=request.POST.get("vat_rate", "23"))
    except ValidationError as error:
        return render(request, "quotes/items.html",
                      _items_context(request, quote, cost_errors=_errors(error), cost_values=request.POST),
                      status=400)
    return redirect(_items_url(quote))


@login_required
@require_POST
def remove_cost(request: HttpRequest, pk: int, cost_id: int) -> HttpResponse:
    quote = selectors.record_for(request.member, "quote", pk, action="edit")
    cost = get_object_or_404(QuoteCost, pk=cost_id, quote=quote)
    try:
        services.remove_cost(actor=request.member, cost=cost)
    except ValidationError as error:
        return render(request, "quotes/items.html", _items_context(request, quote, errors=_errors(error)), status=400)
    return redirect(_items_url(quote))


def _pdf_response(quote: Quote, *, download: bool) -> HttpResponse:
    response = HttpResponse(services.render_pdf(quote), content_type="application/pdf")
    disposition = "attachment" if download else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{services.pdf_filename(quote)}"'
    return response


@login_required
def pdf(request: HttpRequest, pk: int) -> HttpResponse:
    quote = selectors.record_for(request.member, "quote", pk)
    return _pdf_response(quote, download=request.GET.get("download") == "1")


@login_required
def send(request: HttpRequest, pk: int) -> HttpResponse:
    """Send the quote by e-mail to the contact (or another address) with the link to the online view."""
    quote = selectors.record_for(request.member, "quote", pk, action="edit")
    errors, to = {}, request.POST.get("to", "") if request.method == "POST" else (quote.client or {}).get("email", "")
    if request.method == "POST":
        try:
            services.send_quote(actor=request.member, quote=quote, to=to, message=request.POST.get("message", ""),
                                base_url=request.build_absolute_uri("/"))
        except ValidationError as error:
            errors = _errors(error)
        else:
            return redirect(f"/crm/quotes/{quote.pk}/")
    return render(request, "quotes/send.html", {"quote": quote, "to": to, "errors": errors,
                                                "message": request.POST.get("message", "")},
                  status=400 if errors else 200)


@login_required
@require_POST
def set_status(request: HttpRequest, pk: int) -> HttpResponse:
    quote = selectors.record_for(request.member, "quote", pk, action="edit")
    try:
        services.change_status(actor=request.member, quote=quote, status=request.POST.get("status", ""))
    except ValidationError as error:
        return render(request, "quotes/items.html", _items_context(request, quote, errors=_errors(error)), status=400)
    return redirect(f"/crm/quotes/{quote.pk}/")


# --- The client's online view --------------------------------------------------------------------

@never_cache
def public(request: HttpRequest, token: str) -> HttpResponse:
    quote = services.quote_for_token(token)
    if request.method == "GET":
        services.record_open(quote)
        quote.refresh_from_db()
    context = services.document_context(quote) | {"token": token, "expired": services.is_expired(quote),
                                                  "decided": quote.status in services.DECIDED}
    return render(request, "quotes/public.html", context)


@never_cache
def public_pdf(request: HttpRequest, token: str) -> HttpResponse:
    return _pdf_response(services.quote_for_token(token), download=True)


@csrf_exempt  # navigator.sendBeacon sends no CSRF header; the signed token is the only key and it adds seconds only
@require_POST
def public_beacon(request: HttpRequest, token: str) -> HttpResponse:
    quote = services.quote_for_token(token)
    services.record_view_time(quote, request.POST.get("seconds", services.BEACON_MAX_SECONDS // 2))
    return HttpResponse(status=204)


@never_cache
@require_POST
def public_decide(request: HttpRequest, token: str) -> HttpResponse:
    quote = services.quote_for_token(token)
    decision = request.POST.get("decision")
    if decision not in ("accept", "decline"):
        raise Http404
    error = ""
    try:
        services.decide(quote=quote, accepted=decision == "accept", comment=request.POST.get("comment", ""))
    except ValidationError as refused:
        error = " ".join(refused.messages)
    quote.refresh_from_db()
    context = services.document_context(quote) | {"token": token, "expired": services.is_expired(quote),
                                                  "decided": quote.status in services.DECIDED, "error": error,
                                                  "just_decided": not error}
    return render(request, "quotes/public.html", context, status=400 if error else 200)


