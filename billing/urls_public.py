"""Billing URLs on the public host (BASE_DOMAIN): Stripe's webhook endpoint."""

from django.urls import path

from billing import webhooks

app_name = "billing_public"

urlpatterns = [
    path("stripe/webhook/", webhooks.stripe_webhook, name="stripe-webhook"),
]
