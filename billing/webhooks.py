"""Stripe's webhook endpoint: verify, store by event id, hand over to a job, answer at once.

Stripe retries a delivery until it gets a 2xx and may deliver one event more than once, so
the stored event id is the idempotency key: a second delivery is acknowledged and dropped.
The work happens in ``billing.jobs.process_stripe_event`` after the row is committed, which
keeps the answer fast (Stripe times out after a few seconds) and lets failures retry.
"""

from __future__ import annotations

import json

import stripe
import structlog
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing import jobs
from billing.models import StripeEvent

log = structlog.get_logger(__name__)


def _verified_event(request: HttpRequest) -> dict | None:
    """The event as Stripe sent it, or None when the signature, timestamp or body is wrong."""
    try:
        payload = request.body.decode("utf-8")
        stripe.Webhook.construct_event(payload, request.headers.get("Stripe-Signature"),
                                       settings.STRIPE_WEBHOOK_SECRET)
    # ValueError covers a body that is not UTF-8 or not JSON; AttributeError/TypeError a signed
    # body that is JSON but not an object.
    except (stripe.SignatureVerificationError, ValueError, AttributeError, TypeError) as error:
        log.warning("stripe.webhook_rejected", reason=type(error).__name__,
                    secret_configured=bool(settings.STRIPE_WEBHOOK_SECRET))
        return None
    # Stored as the plain JSON Stripe signed, not the library's object, so a job reads exactly that.
    event = json.loads(payload)
    is_event = (isinstance(event.get("id"), str) and event["id"] and isinstance(event.get("type"), str)
                and isinstance(event.get("data"), dict) and isinstance(event["data"].get("object"), dict))
    if not is_event:
        log.warning("stripe.webhook_rejected", reason="not an event")
        return None
    return event


def _enqueue(event_id: str) -> None:
    jobs.process_stripe_event.send(event_id)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    event = _verified_event(request)
    if event is None:
        return HttpResponseBadRequest("invalid signature or payload", content_type="text/plain")
    with transaction.atomic():
        stored, created = StripeEvent.objects.get_or_create(
            id=event["id"], defaults={"type": event["type"], "payload": event})
        if created:
            # robust: a broker outage must not turn into a 500 that makes Stripe redeliver an event
            # we already stored (and would then drop as a duplicate); retry_stuck_stripe_events
            # picks such events up.
            transaction.on_commit(lambda: _enqueue(stored.id), robust=True)
    log.info("stripe.webhook_received", event_id=event["id"], type=event["type"], duplicate=not created)
    return JsonResponse({"received": True, "duplicate": not created})
