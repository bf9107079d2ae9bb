"""Stripe's webhook endpoint: only Stripe-signed events get in, each is stored once and queued once."""

from __future__ import annotations

import json
import time

import dramatiq
import pytest
from django.conf import settings
from django.test import Client, override_settings
from dramatiq import Worker

from billing import jobs, stripe_gateway, stripe_sync
from billing.models import StripeEvent
from billing.tests.fake_stripe import (
    WEBHOOK_PATH,
    WEBHOOK_SECRET,
    fake_stripe_fixture,  # noqa: F401
    signed_webhook,
    stripe_signature,
    subscribe,
)
from kompas.testing.fixtures import in_own_connection
from tenants.job_context import TENANT_OPTION

pytestmark = pytest.mark.django_db


class _EnqueueRecorder(dramatiq.Middleware):
    def __init__(self) -> None:
        self.messages: list[dramatiq.Message] = []

    def after_enqueue(self, broker, message, delay) -> None:
        self.messages.append(message)


@pytest.fixture
def enqueued(portals):
    """Messages really sent to the configured broker (stub or Redis), recorded on the way."""
    broker = dramatiq.get_broker()
    recorder = _EnqueueRecorder()
    broker.add_middleware(recorder)
    yield recorder.messages
    broker.middleware.remove(recorder)
    broker.flush(jobs.QUEUE)


@pytest.fixture
def stripe_client(portals) -> Client:
    return Client()


def _customer_updated_event(fake_stripe) -> dict:
    customer = fake_stripe.create_customer({"name": "Gamma Logistyka Sp. z o.o.", "email": "faktury@gamma.pl"})
    return fake_stripe.event("customer.updated", customer, previous_attributes={"email": "biuro@gamma.pl"})


def test_a_signed_event_is_stored_and_its_job_enqueued_once_per_event_id(
        stripe_client, fake_stripe, enqueued, django_capture_on_commit_callbacks):
    event = _customer_updated_event(fake_stripe)
    with django_capture_on_commit_callbacks(execute=True):
        first = signed_webhook(stripe_client, event)
        again = signed_webhook(stripe_client, event)  # Stripe delivers at least once
        resent_later = signed_webhook(stripe_client, event, timestamp=int(time.time()) + 5)

    assert [first.status_code, again.status_code, resent_later.status_code] == [200, 200, 200]
    assert first.json() == {"received": True, "duplicate": False}
    assert again.json()["duplicate"] is True
    stored = StripeEvent.objects.get(pk=event["id"])
    assert stored.type == "customer.updated"
    assert stored.payload == event
    assert [(message.actor_name, message.args) for message in enqueued] == [
        ("process_stripe_event", (event["id"],))]
    assert enqueued[0].options[TENANT_OPTION] == "public"  # a control-plane job


def test_nothing_is_enqueued_before_the_event_row_is_committed(stripe_client, fake_stripe, enqueued):
    event = _customer_updated_event(fake_stripe)
    # Inside the test's transaction the row is not committed, so the job must not be sent yet.
    assert signed_webhook(stripe_client, event).status_code == 200
    assert enqueued == []


def _tampered(payload: str) -> str:
    return payload.replace("Gamma", "Omega")


@pytest.mark.parametrize("forge", [
    pytest.param(lambda payload: stripe_signature(payload, secret="whsec_someone_else"), id="wrong-secret"),
    pytest.param(lambda payload: stripe_signature(_tampered(payload)), id="signed-other-body"),
    pytest.param(lambda payload: stripe_signature(payload, timestamp=int(time.time()) - 3600), id="expired"),
    pytest.param(lambda payload: stripe_signature(payload).replace("v1=", "v0="), id="old-scheme-only"),
    pytest.param(lambda payload: "t=abc,v1=deadbeef", id="garbage"),
    pytest.param(lambda payload: "", id="missing"),
])
def test_a_badly_signed_event_is_refused_and_nothing_is_stored(stripe_client, fake_stripe, enqueued, forge,
                                                               django_capture_on_commit_callbacks):
    event = _customer_updated_event(fake_stripe)
    payload = json.dumps(event, indent=2)
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_webhook(stripe_client, event, signature=forge(payload))
    assert response.status_code == 400
    assert not StripeEvent.objects.filter(pk=event["id"]).exists()
    assert enqueued == []


@pytest.mark.parametrize("payload", ["not json at all", "[1, 2, 3]", '{"object": "event", "data": {}}'])
def test_a_signed_body_that_is_not_an_event_is_refused(stripe_client, fake_stripe, payload):
    response = stripe_client.post(WEBHOOK_PATH, data=payload, content_type="application/json",
                                  HTTP_HOST=settings.BASE_DOMAIN, HTTP_STRIPE_SIGNATURE=stripe_signature(payload))
    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0


def test_without_a_webhook_secret_every_event_is_refused(stripe_client, fake_stripe):
    event = _customer_updated_event(fake_stripe)
    with override_settings(STRIPE_WEBHOOK_SECRET=""):
        response = signed_webhook(stripe_client, event, secret=WEBHOOK_SECRET)
    assert response.status_code == 400
    assert not StripeEvent.objects.filter(pk=event["id"]).exists()


def test_the_endpoint_takes_only_post(stripe_client, fake_stripe):
    assert stripe_client.get(WEBHOOK_PATH, HTTP_HOST=settings.BASE_DOMAIN).status_code == 405


def test_the_endpoint_lives_on_the_public_host_only(portal_a, fake_stripe):
    event = _customer_updated_event(fake_stripe)
    payload = json.dumps(event)
    response = portal_a.client().post(WEBHOOK_PATH, data=payload, content_type="application/json",
                                      HTTP_STRIPE_SIGNATURE=stripe_signature(payload))
    assert response.status_code == 404
    assert not StripeEvent.objects.filter(pk=event["id"]).exists()


def test_an_event_type_we_do_not_handle_is_stored_and_acknowledged(stripe_client, fake_stripe):
    event = _customer_updated_event(fake_stripe)
    assert signed_webhook(stripe_client, event).status_code == 200
    assert stripe_sync.process_event(event["id"]) == stripe_sync.Outcome.PROCESSED
    stored = StripeEvent.objects.get(pk=event["id"])
    assert stored.processed_at is not None and stored.attempts == 1


def test_processing_an_event_twice_applies_it_once(portal_a, stripe_client, fake_stripe):
    outcome = subscribe(fake_stripe, stripe_client, portal_a.tenant)
    event = fake_stripe.event("invoice.finalized", outcome.invoice)
    signed_webhook(stripe_client, event)
    assert stripe_sync.process_event(event["id"]) == stripe_sync.Outcome.PROCESSED
    invoice_reads = len(fake_stripe.requests_to("GET", "/v1/invoices/"))
    assert stripe_sync.process_event(event["id"]) == stripe_sync.Outcome.ALREADY_PROCESSED
    assert len(fake_stripe.requests_to("GET", "/v1/invoices/")) == invoice_reads
    assert StripeEvent.objects.get(pk=event["id"]).attempts == 1


def test_every_billing_job_is_a_control_plane_job():
    actors = [jobs.process_stripe_event, jobs.retry_stuck_stripe_events, jobs.enforce_dunning,
              jobs.end_expired_trials, jobs.reconcile_with_stripe]
    assert all(actor.options.get("control_plane") for actor in actors)
    assert {actor.queue_name for actor in actors} == {jobs.QUEUE}


def test_the_scheduled_jobs_run_their_business_logic(portal_a, stripe_client, fake_stripe):
    subscribe(fake_stripe, stripe_client, portal_a.tenant)
    # Calling an actor runs it synchronously, in this thread and transaction.
    jobs.reconcile_with_stripe()
    jobs.enforce_dunning()
    jobs.end_expired_trials()
    jobs.retry_stuck_stripe_events()
    assert [request.path for request in fake_stripe.requests_to("GET", "/v1/subscriptions")][-1] == "/v1/subscriptions"


def test_a_job_for_an_event_that_was_never_stored_does_nothing(portals):
    assert stripe_sync.process_event("evt_1NeverStored000000000000") == stripe_sync.Outcome.NOT_STORED


def test_a_failure_is_recorded_on_the_event_and_the_next_attempt_succeeds(portal_a, stripe_client, fake_stripe):
    outcome = subscribe(fake_stripe, stripe_client, portal_a.tenant)
    event = fake_stripe.event("invoice.finalized", outcome.invoice)
    signed_webhook(stripe_client, event)
    fake_stripe.fail_next("GET", "/v1/invoices/", status=500, error_type="api_error",
                          message="An unknown error occurred", code=None)

    with pytest.raises(stripe_gateway.PaymentProviderError):
        stripe_sync.process_event(event["id"])  # the actor re-raises, so dramatiq retries
    failed = StripeEvent.objects.get(pk=event["id"])
    assert failed.processed_at is None
    assert failed.attempts == 1
    assert failed.last_error.startswith("PaymentProviderError")

    assert stripe_sync.process_event(event["id"]) == stripe_sync.Outcome.PROCESSED
    retried = StripeEvent.objects.get(pk=event["id"])
    assert (retried.attempts, retried.last_error) == (2, "")
    assert retried.processed_at is not None


def test_events_whose_job_was_lost_are_found_by_the_sweep(stripe_client, fake_stripe):
    from datetime import timedelta

    from django.utils import timezone

    event = _customer_updated_event(fake_stripe)
    signed_webhook(stripe_client, event)
    StripeEvent.objects.filter(pk=event["id"]).update(received_at=timezone.now() - timedelta(hours=1))
    assert stripe_sync.unprocessed_event_ids(received_before=timezone.now() - jobs.STUCK_AFTER) == [event["id"]]
    stripe_sync.process_event(event["id"])
    assert stripe_sync.unprocessed_event_ids(received_before=timezone.now()) == []


def test_a_delivered_event_is_processed_by_a_real_worker_in_the_public_schema(portals, fake_stripe):
    """The whole path with committed data: webhook → commit → broker → worker → event processed."""
    event = _customer_updated_event(fake_stripe)
    broker = dramatiq.get_broker()
    broker.flush(jobs.QUEUE)
    worker = Worker(broker, queues={jobs.QUEUE}, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        response = in_own_connection(signed_webhook, Client(), event)
        assert response.status_code == 200
        broker.join(jobs.QUEUE, timeout=20_000, **({"fail_fast": True} if "Stub" in type(broker).__name__ else {}))
        stored = in_own_connection(lambda: StripeEvent.objects.filter(pk=event["id"]).values(
            "processed_at", "attempts").first())
        assert stored["processed_at"] is not None
        assert stored["attempts"] == 1
    finally:
        worker.stop()
        broker.flush(jobs.QUEUE)
        in_own_connection(lambda: StripeEvent.objects.filter(pk=event["id"]).delete())
