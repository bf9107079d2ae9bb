"""Billing: plans and licences as data, the limits service, Stripe subscriptions and webhooks.

Sits above tenants and below identity (DESIGN.md, Layout). Built by the billing issue.
"""
