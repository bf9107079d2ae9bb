"""A fake Stripe at the HTTP boundary, and webhooks signed the way Stripe signs them.

``FakeStripe`` is a real HTTP server on 127.0.0.1 that the official ``stripe`` library talks
to (``settings.STRIPE_API_BASE``). It speaks the subset of Stripe's REST API Kompas uses:
form-encoded requests with bracketed nested keys, Bearer authentication, JSON objects shaped
like Stripe's API reference (``object``, id prefixes, ``items.data[].price``, the period on the
subscription item as in current API versions, invoices naming their subscription under
``parent.subscription_details``) and Stripe's error envelope. Subscriptions may have several
items (``/v1/subscription_items``: create, update, delete, list), each with its own metadata;
a subscription embeds at most ``EMBEDDED_ITEMS`` of them with ``has_more``, so that paging
through the rest is exercised. Checkout does not copy line-item metadata onto the items it
creates (Kompas must not depend on it). Its state lives in memory;
tests drive what would happen inside Stripe (a checkout paid, a renewal failing, a card
paying an invoice) with the methods under "Stripe-side actions".

Test modules import the fixtures by their function names (``fake_stripe_fixture``,
``portal_status_changes_fixture``) and ask for them as ``fake_stripe`` / ``portal_status_changes``.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import random
import re
import string
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.conf import settings
from django.test import override_settings
from stripe._api_version import _ApiVersion

API_KEY = "sk_test_51KompasFakeStripeKey0000000000"
WEBHOOK_SECRET = "whsec_kompas_test_0f3c9a8e7d6b5a4c3b2a1"
API_VERSION = _ApiVersion.CURRENT
WEBHOOK_PATH = "/billing/stripe/webhook/"
DAY = 24 * 60 * 60
PERIOD_SECONDS = {"month": 30 * DAY, "year": 365 * DAY}
EMBEDDED_ITEMS = 10


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(random.choices(string.ascii_letters + string.digits, k=length))


def now() -> int:
    return int(time.time())


# --- Webhook signing (https://docs.stripe.com/webhooks#verify-manually) ---------------------

def stripe_signature(payload: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header: ``t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<payload>">``."""
    timestamp = now() if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signed_webhook(client, event: dict, *, secret: str | None = None, timestamp: int | None = None,
                   signature: str | None = None):
    """POST ``event`` to the webhook on the public host, as Stripe delivers it."""
    payload = json.dumps(event, indent=2)  # Stripe sends pretty-printed JSON
    header = signature if signature is not None else stripe_signature(
        payload, secret=secret or settings.STRIPE_WEBHOOK_SECRET, timestamp=timestamp)
    extra = {"HTTP_STRIPE_SIGNATURE": header} if header else {}
    return client.post(WEBHOOK_PATH, data=payload, content_type="application/json; charset=utf-8",
                       HTTP_HOST=settings.BASE_DOMAIN, HTTP_USER_AGENT="Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                       **extra)


# --- Form decoding: Stripe's bracketed keys (``line_items[0][price]=price_…``) ---------------

def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        value = {key: _listify(item) for key, item in value.items()}
        if value and all(key.isdigit() for key in value):
            return [value[key] for key in sorted(value, key=int)]
    return value


def decode_form(body: str) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"^[^\[]+|(?<=\[)[^\]]*(?=\])", key)
        target = decoded
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part == "":  # ``expand[]=…``
                part = str(len(target))
            if last:
                target[part] = value
            else:
                target = target.setdefault(part, {})
    return _listify(decoded)


# --- The fake ---------------------------------------------------------------------------------

@dataclass
class RecordedRequest:
    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]


class StripeApiError(Exception):
    def __init__(self, status: int, *, type_: str, message: str, code: str | None = None,
                 param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": type_, "message": message, "code": code, "param": param,
                               "doc_url": f"https://docs.stripe.com/error-codes/{code}" if code else None,
                               "request_log_url": None}}


def _missing(kind: str, object_id: str, param: str = "id") -> StripeApiError:
    return StripeApiError(404, type_="invalid_request_error", message=f"No such {kind}: '{object_id}'",
                          code="resource_missing", param=param)


@dataclass
class _Failure:
    method: str
    path_prefix: str
    status: int
    error_type: str
    message: str
    code: str | None


@dataclass
class CheckoutOutcome:
    session: dict
    subscription: dict
    invoice: dict


class FakeStripe:
    """Stripe's API for one Stripe account, in memory, behind a real HTTP server."""

    def __init__(self, *, api_key: str = API_KEY, webhook_secret: str = WEBHOOK_SECRET) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.customers: dict[str, dict] = {}
        self.products: dict[str, dict] = {}
        self.prices: dict[str, dict] = {}
        self.checkout_sessions: dict[str, dict] = {}
        self.portal_sessions: dict[str, dict] = {}
        self.subscriptions: dict[str, dict] = {}
        self.invoices: dict[str, dict] = {}
        self.requests: list[RecordedRequest] = []
        self._failures: list[_Failure] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._invoice_counter = 0

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeStripe:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; without this, Nagle's algorithm and the
            # client's delayed ACK add 40 ms to every request.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                status, payload = fake.handle(self.command, self.path, body, dict(self.headers.items()))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", new_id("req_", 14))
                self.send_header("Stripe-Version", API_VERSION)
                if status >= 400:
                    self.send_header("Stripe-Should-Retry", "false")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-stripe", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        with self._lock:
            for store in (self.customers, self.products, self.prices, self.checkout_sessions, self.portal_sessions,
                          self.subscriptions, self.invoices):
                store.clear()
            self.requests.clear()
            self._failures.clear()

    # -- test helpers ---------------------------------------------------------------------------

    def fail_next(self, method: str, path_prefix: str, *, status: int = 402, error_type: str = "card_error",
                  message: str = "Your card was declined.", code: str | None = "card_declined") -> None:
        """The next matching request gets Stripe's error envelope instead of an answer."""
        self._failures.append(_Failure(method, path_prefix, status, error_type, message, code))

    def requests_to(self, method: str, path_prefix: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.method == method
                and request.path.startswith(path_prefix)]

    def event(self, type_: str, obj: dict, *, previous_attributes: dict | None = None,
              created: int | None = None, api_request: bool = False) -> dict:
        """A webhook event carrying a snapshot of ``obj`` as it is now, shaped like Stripe's."""
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        return {
            "id": new_id("evt_1"),
            "object": "event",
            "api_version": API_VERSION,
            "created": created or now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": ({"id": new_id("req_", 14), "idempotency_key": str(uuid.uuid4())} if api_request
                        else {"id": None, "idempotency_key": None}),
            "type": type_,
        }

    # -- HTTP -----------------------------------------------------------------------------------

    ROUTES: list[tuple[str, re.Pattern, str]] = [
        ("POST", re.compile(r"^/v1/customers$"), "create_customer"),
        ("GET", re.compile(r"^/v1/customers/(?P<object_id>[^/]+)$"), "retrieve_customer"),
        ("POST", re.compile(r"^/v1/products$"), "create_product"),
        ("POST", re.compile(r"^/v1/prices$"), "create_price"),
        ("POST", re.compile(r"^/v1/checkout/sessions$"), "create_checkout_session"),
        ("GET", re.compile(r"^/v1/checkout/sessions/(?P<object_id>[^/]+)$"), "retrieve_checkout_session"),
        ("POST", re.compile(r"^/v1/billing_portal/sessions$"), "create_portal_session"),
        ("GET", re.compile(r"^/v1/subscriptions$"), "list_subscriptions"),
        ("GET", re.compile(r"^/v1/subscriptions/(?P<object_id>[^/]+)$"), "retrieve_subscription"),
        ("POST", re.compile(r"^/v1/subscriptions/(?P<object_id>[^/]+)$"), "update_subscription"),
        ("DELETE", re.compile(r"^/v1/subscriptions/(?P<object_id>[^/]+)$"), "cancel_subscription_request"),
        ("GET", re.compile(r"^/v1/subscription_items$"), "list_subscription_items"),
        ("POST", re.compile(r"^/v1/subscription_items$"), "create_subscription_item"),
        ("GET", re.compile(r"^/v1/subscription_items/(?P<object_id>[^/]+)$"), "retrieve_subscription_item"),
        ("POST", re.compile(r"^/v1/subscription_items/(?P<object_id>[^/]+)$"), "update_subscription_item"),
        ("DELETE", re.compile(r"^/v1/subscription_items/(?P<object_id>[^/]+)$"), "delete_subscription_item"),
        ("GET", re.compile(r"^/v1/invoices/(?P<object_id>[^/]+)$"), "retrieve_invoice"),
    ]

    def handle(self, method: str, raw_path: str, body: str, headers: dict[str, str]) -> tuple[int, dict]:
        split = urlsplit(raw_path)
        params = decode_form(body if method == "POST" else split.query)
        with self._lock:
            self.requests.append(RecordedRequest(method, split.path, params, headers))
            try:
                self._authenticate(headers)
                self._raise_injected_failure(method, split.path)
                for route_method, pattern, handler_name in self.ROUTES:
                    match = pattern.match(split.path)
                    if match and route_method == method:
                        return 200, getattr(self, handler_name)(params, **match.groupdict())
                raise StripeApiError(404, type_="invalid_request_error",
                                     message=f"Unrecognized request URL ({method}: {split.path}).")
            except StripeApiError as error:
                return error.status, error.body

    def _authenticate(self, headers: dict[str, str]) -> None:
        given = next((value for key, value in headers.items() if key.lower() == "authorization"), "")
        if given != f"Bearer {self.api_key}":
            raise StripeApiError(401, type_="invalid_request_error",
                                 message="Invalid API Key provided: " + given.removeprefix("Bearer ")[:8] + "***")

    def _raise_injected_failure(self, method: str, path: str) -> None:
        for failure in self._failures:
            if failure.method == method and path.startswith(failure.path_prefix):
                self._failures.remove(failure)
                raise StripeApiError(failure.status, type_=failure.error_type, message=failure.message,
                                     code=failure.code)

    # -- customers, products, prices ------------------------------------------------------------

    def create_customer(self, params: dict) -> dict:
        customer = {
            "id": new_id("cus_", 14), "object": "customer", "address": params.get("address"), "balance": 0,
            "created": now(), "currency": None, "default_source": None, "delinquent": False,
            "description": params.get("description"), "discount": None, "email": params.get("email"),
            "invoice_prefix": new_id("", 8).upper(), "invoice_settings": {
                "custom_fields": None, "default_payment_method": None, "footer": None, "rendering_options": None},
            "livemode": False, "metadata": params.get("metadata", {}), "name": params.get("name"),
            "next_invoice_sequence": 1, "phone": None, "preferred_locales": params.get("preferred_locales", []),
            "shipping": None, "tax_exempt": "none", "test_clock": None,
        }
        self.customers[customer["id"]] = customer
        return customer

    def retrieve_customer(self, params: dict, object_id: str) -> dict:
        if object_id not in self.customers:
            raise _missing("customer", object_id)
        return self.customers[object_id]

    def create_product(self, params: dict) -> dict:
        product = {
            "id": new_id("prod_", 14), "object": "product", "active": True, "created": now(), "default_price": None,
            "description": None, "images": [], "livemode": False, "marketing_features": [],
            "metadata": params.get("metadata", {}), "name": params["name"], "package_dimensions": None,
            "shippable": None, "statement_descriptor": None, "tax_code": None, "type": "service",
            "unit_label": None, "updated": now(), "url": None,
        }
        self.products[product["id"]] = product
        return product

    def create_price(self, params: dict) -> dict:
        if params.get("product") not in self.products:
            raise _missing("product", params.get("product", ""), "product")
        lookup_key = params.get("lookup_key")
        if lookup_key:
            holders = [price for price in self.prices.values() if price["lookup_key"] == lookup_key]
            if holders and params.get("transfer_lookup_key") != "true":
                raise StripeApiError(400, type_="invalid_request_error", param="lookup_key",
                                     message=f"A price (`{holders[0]['id']}`) already uses that lookup key.")
            for holder in holders:
                holder["lookup_key"] = None
        amount = int(params["unit_amount"])
        price = {
            "id": new_id("price_1"), "object": "price", "active": True, "billing_scheme": "per_unit",
            "created": now(), "currency": params["currency"], "custom_unit_amount": None, "livemode": False,
            "lookup_key": lookup_key, "metadata": params.get("metadata", {}), "nickname": None,
            "product": params["product"],
            "recurring": {"interval": params["recurring"]["interval"], "interval_count": 1, "meter": None,
                          "usage_type": "licensed"},
            "tax_behavior": params.get("tax_behavior", "unspecified"), "tiers_mode": None,
            "transform_quantity": None, "type": "recurring", "unit_amount": amount,
            "unit_amount_decimal": str(amount),
        }
        self.prices[price["id"]] = price
        return price

    # -- Checkout and the Customer Portal -------------------------------------------------------

    def create_checkout_session(self, params: dict) -> dict:
        if params.get("customer") not in self.customers:
            raise _missing("customer", params.get("customer", ""), "customer")
        line_items = params.get("line_items", [])
        for line in line_items:
            if line.get("price") not in self.prices:
                raise _missing("price", line.get("price", ""), "line_items[0][price]")
        first_price = self.prices[line_items[0]["price"]]
        total = sum(self.prices[line["price"]]["unit_amount"] * int(line.get("quantity", 1)) for line in line_items)
        session_id = new_id("cs_test_a1", 40)
        session = {
            "id": session_id, "object": "checkout.session", "after_expiration": None,
            "allow_promotion_codes": None, "amount_subtotal": total, "amount_total": total,
            "automatic_tax": {"enabled": False, "liability": None, "status": None},
            "billing_address_collection": None, "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"), "consent": None,
            "created": now(), "currency": first_price["currency"], "customer": params["customer"],
            "customer_creation": None, "customer_details": None, "customer_email": None,
            "expires_at": now() + DAY, "invoice": None, "livemode": False, "locale": params.get("locale"),
            "metadata": params.get("metadata", {}), "mode": params.get("mode"), "payment_intent": None,
            "payment_method_types": ["card"], "payment_status": "unpaid", "status": "open",
            "submit_type": None, "subscription": None, "success_url": params.get("success_url"),
            "ui_mode": "hosted", "url": f"https://checkout.stripe.com/c/pay/{session_id}#fidkdWxOYHwnPyd1blpx",
            # Kept only by the fake, to build the subscription when the customer pays.
            "_line_items": line_items,
            "_subscription_data": params.get("subscription_data", {}),
        }
        self.checkout_sessions[session_id] = session
        return self._public(session)

    def retrieve_checkout_session(self, params: dict, object_id: str) -> dict:
        if object_id not in self.checkout_sessions:
            raise _missing("checkout.session", object_id)
        return self._public(self.checkout_sessions[object_id])

    def create_portal_session(self, params: dict) -> dict:
        if params.get("customer") not in self.customers:
            raise _missing("customer", params.get("customer", ""), "customer")
        session = {
            "id": new_id("bps_1"), "object": "billing_portal.session", "configuration": new_id("bpc_1"),
            "created": now(), "customer": params["customer"], "flow": None, "livemode": False,
            "locale": params.get("locale"), "on_behalf_of": None, "return_url": params.get("return_url"),
            "url": f"https://billing.stripe.com/p/session/test_{new_id('', 40)}",
        }
        self.portal_sessions[session["id"]] = session
        return session

    @staticmethod
    def _public(obj: dict) -> dict:
        return {key: value for key, value in obj.items() if not key.startswith("_")}

    # -- subscriptions --------------------------------------------------------------------------

    def _subscription_item(self, subscription_id: str, price_id: str, quantity: int, period_start: int,
                           metadata: dict | None = None) -> dict:
        price = self.prices[price_id]
        return {
            "id": new_id("si_", 14), "object": "subscription_item", "billing_thresholds": None, "created": now(),
            "current_period_end": period_start + PERIOD_SECONDS[price["recurring"]["interval"]],
            "current_period_start": period_start, "discounts": [], "metadata": dict(metadata or {}),
            "price": copy.deepcopy(price), "quantity": quantity, "subscription": subscription_id, "tax_rates": [],
        }

    def _new_subscription(self, *, customer: str, price_id: str, quantity: int, status: str,
                          metadata: dict | None = None, more_lines: list[dict] | None = None) -> dict:
        subscription_id = new_id("sub_1")
        start = now()
        item = self._subscription_item(subscription_id, price_id, quantity, start)
        more_items = [self._subscription_item(subscription_id, line["price"], int(line.get("quantity", 1)), start)
                      for line in more_lines or []]
        subscription = {
            "id": subscription_id, "object": "subscription", "application": None,
            "application_fee_percent": None, "automatic_tax": {"disabled_reason": None, "enabled": False,
                                                               "liability": None},
            "billing_cycle_anchor": start, "billing_thresholds": None, "cancel_at": None,
            "cancel_at_period_end": False, "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically", "created": start, "currency": item["price"]["currency"],
            "customer": customer, "days_until_due": None, "default_payment_method": new_id("pm_1"),
            "default_source": None, "default_tax_rates": [], "description": None, "discounts": [],
            "ended_at": None, "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
            "items": {"object": "list", "data": [item, *more_items], "has_more": False,
                      "total_count": 1 + len(more_items),
                      "url": f"/v1/subscription_items?subscription={subscription_id}"},
            "latest_invoice": None, "livemode": False, "metadata": metadata or {},
            "next_pending_invoice_item_invoice": None,
            "on_behalf_of": None, "pause_collection": None, "payment_settings": {
                "payment_method_options": None, "payment_method_types": None,
                "save_default_payment_method": "off"},
            "pending_invoice_item_interval": None, "pending_setup_intent": None, "pending_update": None,
            "schedule": None, "start_date": start, "status": status, "test_clock": None, "transfer_data": None,
            "trial_end": None, "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
            "trial_start": None,
        }
        self.subscriptions[subscription_id] = subscription
        return subscription

    def _subscription(self, subscription_id: str) -> dict:
        if subscription_id not in self.subscriptions:
            raise _missing("subscription", subscription_id)
        return self.subscriptions[subscription_id]

    @staticmethod
    def _rendered(subscription: dict) -> dict:
        """A subscription as the API returns it: the first EMBEDDED_ITEMS items, ``has_more`` for the rest."""
        rendered = copy.deepcopy(subscription)
        items = rendered["items"]
        items["total_count"] = len(items["data"])
        items["has_more"] = len(items["data"]) > EMBEDDED_ITEMS
        items["data"] = items["data"][:EMBEDDED_ITEMS]
        return rendered

    def retrieve_subscription(self, params: dict, object_id: str) -> dict:
        return self._rendered(self._subscription(object_id))

    def list_subscriptions(self, params: dict) -> dict:
        wanted = params.get("status")
        found = [subscription for subscription in self.subscriptions.values()
                 if wanted == "all" or subscription["status"] == wanted
                 or (wanted is None and subscription["status"] != "canceled")]
        found.sort(key=lambda subscription: subscription["created"], reverse=True)
        if params.get("starting_after"):
            ids = [subscription["id"] for subscription in found]
            found = found[ids.index(params["starting_after"]) + 1:]
        limit = int(params.get("limit", 10))
        return {"object": "list", "data": [self._rendered(subscription) for subscription in found[:limit]],
                "has_more": len(found) > limit, "url": "/v1/subscriptions"}

    def update_subscription(self, params: dict, object_id: str) -> dict:
        subscription = self._subscription(object_id)
        if subscription["status"] == "canceled":
            raise StripeApiError(400, type_="invalid_request_error", message=(
                "A canceled subscription can only update its cancellation_details and metadata."))
        for change in params.get("items", []):
            item = next((item for item in subscription["items"]["data"] if item["id"] == change.get("id")), None)
            if item is None:
                raise _missing("subscription_item", change.get("id", ""), "items[0][id]")
            if "price" in change:
                if change["price"] not in self.prices:
                    raise _missing("price", change["price"], "items[0][price]")
                item["price"] = copy.deepcopy(self.prices[change["price"]])
            if "quantity" in change:
                item["quantity"] = int(change["quantity"])
        if "cancel_at_period_end" in params:
            subscription["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
        subscription["metadata"].update(params.get("metadata", {}))
        return self._rendered(subscription)

    def cancel_subscription_request(self, params: dict, object_id: str) -> dict:
        return self._rendered(self.cancel_subscription(object_id))

    # -- subscription items ---------------------------------------------------------------------

    def _item(self, item_id: str) -> tuple[dict, dict]:
        for subscription in self.subscriptions.values():
            for item in subscription["items"]["data"]:
                if item["id"] == item_id:
                    return subscription, item
        raise _missing("subscription_item", item_id)

    @staticmethod
    def _refuse_changes_to_cancelled(subscription: dict) -> None:
        if subscription["status"] == "canceled":
            raise StripeApiError(400, type_="invalid_request_error", message=(
                "A canceled subscription can only update its cancellation_details and metadata."))

    def _price_for_item(self, price_id: str, subscription: dict, *, replacing: dict | None = None) -> dict:
        if price_id not in self.prices:
            raise _missing("price", price_id, "price")
        price = self.prices[price_id]
        others = [item for item in subscription["items"]["data"] if item is not replacing]
        for field in ("currency", "interval"):
            ours = price["currency"] if field == "currency" else price["recurring"]["interval"]
            theirs = {item["price"]["currency"] if field == "currency" else item["price"]["recurring"]["interval"]
                      for item in others}
            if theirs and theirs != {ours}:
                raise StripeApiError(400, type_="invalid_request_error", param="price", message=(
                    "Currency and interval fields must match across all plans on this subscription. "
                    f"Found mismatch in {field} field."))
        return price

    @staticmethod
    def _merge_metadata(target: dict, changes: Any) -> None:
        if changes == "":  # ``metadata=`` unsets every key
            target.clear()
            return
        for key, value in (changes or {}).items():
            if value == "":
                target.pop(key, None)
            else:
                target[key] = value

    def list_subscription_items(self, params: dict) -> dict:
        subscription = self._subscription(params.get("subscription", ""))
        items = subscription["items"]["data"]
        if params.get("starting_after"):
            ids = [item["id"] for item in items]
            items = items[ids.index(params["starting_after"]) + 1:]
        limit = int(params.get("limit", 10))
        return {"object": "list", "data": items[:limit], "has_more": len(items) > limit,
                "url": "/v1/subscription_items"}

    def create_subscription_item(self, params: dict) -> dict:
        subscription = self._subscription(params.get("subscription", ""))
        self._refuse_changes_to_cancelled(subscription)
        self._price_for_item(params.get("price", ""), subscription)
        first = subscription["items"]["data"][0]
        # A new item joins the subscription's billing cycle; proration is billed on the next invoice.
        item = self._subscription_item(subscription["id"], params["price"], int(params.get("quantity", 1)),
                                       first["current_period_start"], params.get("metadata") or {})
        item["current_period_end"] = first["current_period_end"]
        subscription["items"]["data"].append(item)
        subscription["items"]["total_count"] = len(subscription["items"]["data"])
        return item

    def retrieve_subscription_item(self, params: dict, object_id: str) -> dict:
        return self._item(object_id)[1]

    def update_subscription_item(self, params: dict, object_id: str) -> dict:
        subscription, item = self._item(object_id)
        self._refuse_changes_to_cancelled(subscription)
        if "price" in params:
            item["price"] = copy.deepcopy(self._price_for_item(params["price"], subscription, replacing=item))
        if "quantity" in params:
            item["quantity"] = int(params["quantity"])
        if "metadata" in params:
            self._merge_metadata(item["metadata"], params["metadata"])
        return item

    def delete_subscription_item(self, params: dict, object_id: str) -> dict:
        subscription, item = self._item(object_id)
        self._refuse_changes_to_cancelled(subscription)
        if len(subscription["items"]["data"]) == 1:
            raise StripeApiError(400, type_="invalid_request_error", message=(
                "A subscription must have at least one active plan. To cancel a subscription, please use the "
                "cancel API endpoint on /v1/subscriptions."))
        subscription["items"]["data"].remove(item)
        subscription["items"]["total_count"] = len(subscription["items"]["data"])
        return {"id": object_id, "object": "subscription_item", "deleted": True}

    # -- invoices -------------------------------------------------------------------------------

    def retrieve_invoice(self, params: dict, object_id: str) -> dict:
        if object_id not in self.invoices:
            raise _missing("invoice", object_id)
        return self.invoices[object_id]

    def _new_invoice(self, subscription: dict, *, billing_reason: str, paid: bool) -> dict:
        items = subscription["items"]["data"]
        item = items[0]
        amount = sum(each["price"]["unit_amount"] * each["quantity"] for each in items)
        customer = self.customers.get(subscription["customer"], {})
        self._invoice_counter += 1
        invoice_id = new_id("in_1")
        created = now()
        invoice = {
            "id": invoice_id, "object": "invoice", "account_country": "PL", "account_name": "Kompas Sp. z o.o.",
            "account_tax_ids": None, "amount_due": amount, "amount_overpaid": 0,
            "amount_paid": amount if paid else 0, "amount_remaining": 0 if paid else amount, "amount_shipping": 0,
            "application": None, "attempt_count": 1, "attempted": True, "auto_advance": not paid,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None, "provider": None,
                              "status": None},
            "billing_reason": billing_reason, "collection_method": "charge_automatically", "created": created,
            "currency": item["price"]["currency"], "custom_fields": None, "customer": subscription["customer"],
            "customer_address": customer.get("address"), "customer_email": customer.get("email"),
            "customer_name": customer.get("name"), "customer_phone": None, "customer_shipping": None,
            "customer_tax_exempt": "none", "customer_tax_ids": [], "default_payment_method": None,
            "default_source": None, "default_tax_rates": [], "description": None, "discounts": [],
            "due_date": None, "effective_at": created, "ending_balance": 0, "footer": None, "from_invoice": None,
            "hosted_invoice_url": f"https://invoice.stripe.com/i/acct_1Kompas/test_{new_id('', 30)}",
            "invoice_pdf": f"https://pay.stripe.com/invoice/acct_1Kompas/test_{new_id('', 30)}/pdf",
            "issuer": {"type": "self"}, "last_finalization_error": None, "latest_revision": None,
            "lines": {"object": "list", "data": [self._invoice_line(invoice_id, subscription, each) for each in items],
                      "has_more": False, "total_count": len(items), "url": f"/v1/invoices/{invoice_id}/lines"},
            "livemode": False, "metadata": {},
            "next_payment_attempt": None if paid else created + 3 * DAY,
            "number": f"{customer.get('invoice_prefix', 'KOMPAS')}-{self._invoice_counter:04d}",
            "on_behalf_of": None,
            "parent": {"type": "subscription_details", "quote_details": None,
                       "subscription_details": {"metadata": dict(subscription["metadata"]),
                                                "subscription": subscription["id"]}},
            "payment_settings": {"default_mandate": None, "payment_method_options": None,
                                 "payment_method_types": None},
            "period_end": item["current_period_start"], "period_start": item["current_period_start"],
            "post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": 0, "receipt_number": None,
            "shipping_cost": None, "shipping_details": None, "starting_balance": 0, "statement_descriptor": None,
            "status": "paid" if paid else "open",
            "status_transitions": {"finalized_at": created, "marked_uncollectible_at": None,
                                   "paid_at": created if paid else None, "voided_at": None},
            "subtotal": amount, "subtotal_excluding_tax": amount, "test_clock": None, "total": amount,
            "total_discount_amounts": [], "total_excluding_tax": amount, "total_taxes": [],
            "webhooks_delivered_at": None,
        }
        self.invoices[invoice_id] = invoice
        subscription["latest_invoice"] = invoice_id
        return invoice

    @staticmethod
    def _invoice_line(invoice_id: str, subscription: dict, item: dict) -> dict:
        amount = item["price"]["unit_amount"] * item["quantity"]
        return {
            "id": new_id("il_1"), "object": "line_item", "amount": amount, "currency": item["price"]["currency"],
            "description": f"{item['quantity']} × Kompas", "discount_amounts": [], "discountable": True,
            "discounts": [], "invoice": invoice_id, "livemode": False, "metadata": dict(item["metadata"]),
            "parent": {"type": "subscription_item_details", "invoice_item_details": None,
                       "subscription_item_details": {"invoice_item": None, "proration": False,
                                                     "proration_details": {"credited_items": None},
                                                     "subscription": subscription["id"],
                                                     "subscription_item": item["id"]}},
            "period": {"end": item["current_period_end"], "start": item["current_period_start"]},
            "pricing": {"price_details": {"price": item["price"]["id"], "product": item["price"]["product"]},
                        "type": "price_details", "unit_amount_decimal": str(item["price"]["unit_amount"])},
            "quantity": item["quantity"], "taxes": []}

    # -- Stripe-side actions: what happens in Stripe between our API calls ----------------------

    def complete_checkout(self, session_id: str, *, paid: bool = True) -> CheckoutOutcome:
        """The customer pays on the Checkout page: a subscription and its first invoice appear."""
        with self._lock:
            session = self.checkout_sessions[session_id]
            line, *more_lines = session["_line_items"]
            subscription = self._new_subscription(
                customer=session["customer"], price_id=line["price"], quantity=int(line.get("quantity", 1)),
                status="active" if paid else "incomplete",
                metadata=dict(session["_subscription_data"].get("metadata", {})), more_lines=more_lines)
            invoice = self._new_invoice(subscription, billing_reason="subscription_create", paid=paid)
            session.update(status="complete", payment_status="paid" if paid else "unpaid",
                           subscription=subscription["id"], invoice=invoice["id"], url=None)
            return CheckoutOutcome(copy.deepcopy(self._public(session)), copy.deepcopy(subscription),
                                   copy.deepcopy(invoice))

    def renew(self, subscription_id: str, *, paid: bool) -> dict:
        """The period ends and Stripe charges the next one; a declined card makes the subscription past_due."""
        with self._lock:
            subscription = self._subscription(subscription_id)
            for item in subscription["items"]["data"]:
                length = PERIOD_SECONDS[item["price"]["recurring"]["interval"]]
                item["current_period_start"] = item["current_period_end"]
                item["current_period_end"] += length
            invoice = self._new_invoice(subscription, billing_reason="subscription_cycle", paid=paid)
            subscription["status"] = "active" if paid else "past_due"
            return copy.deepcopy(invoice)

    def pay_invoice(self, invoice_id: str) -> dict:
        """A retry or a new card pays the invoice; the subscription is active again."""
        with self._lock:
            invoice = self.invoices[invoice_id]
            invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0,
                           attempt_count=invoice["attempt_count"] + 1, next_payment_attempt=None, auto_advance=False)
            invoice["status_transitions"]["paid_at"] = now()
            subscription_id = invoice["parent"]["subscription_details"]["subscription"]
            subscription = self.subscriptions[subscription_id]
            still_open = [other for other in self.invoices.values() if other["status"] == "open"
                          and other["parent"]["subscription_details"]["subscription"] == subscription_id]
            if not still_open and subscription["status"] in ("past_due", "unpaid", "incomplete"):
                subscription["status"] = "active"
            return copy.deepcopy(invoice)

    def set_subscription_status(self, subscription_id: str, status: str) -> dict:
        with self._lock:
            subscription = self._subscription(subscription_id)
            subscription["status"] = status
            return copy.deepcopy(subscription)

    def set_subscription_quantity(self, subscription_id: str, quantity: int) -> dict:
        with self._lock:
            subscription = self._subscription(subscription_id)
            subscription["items"]["data"][0]["quantity"] = quantity
            return copy.deepcopy(subscription)

    def cancel_subscription(self, subscription_id: str) -> dict:
        with self._lock:
            subscription = self._subscription(subscription_id)
            subscription.update(status="canceled", canceled_at=now(), ended_at=now(), cancel_at_period_end=False)
            subscription["cancellation_details"]["reason"] = "cancellation_requested"
            return copy.deepcopy(subscription)

    def create_subscription(self, *, customer: str, price_id: str, quantity: int = 1,
                            status: str = "active") -> dict:
        """A subscription made outside Kompas (e.g. by hand in the Stripe dashboard)."""
        with self._lock:
            return copy.deepcopy(self._new_subscription(customer=customer, price_id=price_id, quantity=quantity,
                                                        status=status))

    def add_item(self, subscription_id: str, *, price_id: str, quantity: int = 1,
                 metadata: dict | None = None) -> dict:
        """An item added outside Kompas (e.g. by hand in the Stripe dashboard)."""
        with self._lock:
            return copy.deepcopy(self.create_subscription_item(
                {"subscription": subscription_id, "price": price_id, "quantity": str(quantity),
                 "metadata": metadata or {}}))

    def items_of(self, subscription_id: str) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._subscription(subscription_id)["items"]["data"])

    def snapshot(self, kind: str, object_id: str) -> dict:
        """A copy of an object as it is now, e.g. to put in an event delivered later."""
        with self._lock:
            obj = getattr(self, kind)[object_id]
            return self._rendered(obj) if kind == "subscriptions" else copy.deepcopy(obj)


def period_end_of(subscription: dict) -> datetime:
    return datetime.fromtimestamp(subscription["items"]["data"][0]["current_period_end"], tz=UTC)


# --- pytest fixtures --------------------------------------------------------------------------

_server: FakeStripe | None = None
_server_lock = threading.Lock()


def fake_stripe_server() -> FakeStripe:
    """One server for the whole run, started on first use (a daemon thread; it dies with the run)."""
    global _server
    with _server_lock:
        if _server is None:
            _server = FakeStripe().start()
        return _server


@pytest.fixture(name="fake_stripe")
def fake_stripe_fixture() -> Iterator[FakeStripe]:
    """Stripe for one test: empty, with the keys and the API base pointing at the fake."""
    server = fake_stripe_server()
    server.reset()
    with override_settings(STRIPE_SECRET_KEY=API_KEY, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                           STRIPE_API_BASE=server.url):
        yield server
    server.reset()


@pytest.fixture(name="portal_status_changes")
def portal_status_changes_fixture(monkeypatch) -> list[tuple[str, str, str]]:
    """Every real change of a portal's lifecycle state, as (schema, from, to), in order.

    Effects are counted here, so a test can say "this happened exactly once" however many
    times the events were delivered.
    """
    from tenants import services

    changes: list[tuple[str, str, str]] = []
    original = services.set_status

    def recording_set_status(*, tenant, status: str, reason: str = ""):
        if tenant.status != status:
            changes.append((tenant.schema_name, tenant.status, status))
        return original(tenant=tenant, status=status, reason=reason)

    monkeypatch.setattr(services, "set_status", recording_set_status)
    return changes


# --- Kompas-side helpers ----------------------------------------------------------------------

def deliver(client, event: dict) -> str:
    """Deliver a signed event and run its job now, as the worker would; returns the outcome."""
    from billing import stripe_sync

    response = signed_webhook(client, event)
    assert response.status_code == 200, response.content
    return stripe_sync.process_event(event["id"])


def start_checkout(fake: FakeStripe, tenant, *, plan_code: str = "team", seats: int | None = None,
                   interval: str = "month", currency: str = "PLN") -> dict:
    """Open a Checkout session for ``tenant`` through the gateway; returns the fake's session."""
    from billing import stripe_gateway
    from billing.models import PlanPrice

    price = PlanPrice.objects.select_related("plan").get(plan__code=plan_code, interval=interval, currency=currency)
    url = stripe_gateway.create_checkout_session(
        tenant=tenant, price=price, seats=seats, success_url="https://alfa.kompas.test/settings/billing/?ok",
        cancel_url="https://alfa.kompas.test/settings/billing/")
    session_id = url.split("/pay/", 1)[1].split("#", 1)[0]
    return fake.snapshot("checkout_sessions", session_id)


def subscribe(fake: FakeStripe, client, tenant, *, plan_code: str = "team", seats: int | None = None,
              interval: str = "month", currency: str = "PLN") -> CheckoutOutcome:
    """A portal subscribes through Checkout, pays, and Stripe's webhooks are delivered and processed."""
    session = start_checkout(fake, tenant, plan_code=plan_code, seats=seats, interval=interval, currency=currency)
    outcome = fake.complete_checkout(session["id"])
    deliver(client, fake.event("checkout.session.completed", outcome.session))
    deliver(client, fake.event("customer.subscription.created", outcome.subscription))
    deliver(client, fake.event("invoice.paid", outcome.invoice))
    return outcome
