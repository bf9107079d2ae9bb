"""Tenants: the Tenant and Domain models, host routing, provisioning and tenant context for jobs.

The bottom layer of the platform: it imports nothing from billing, identity, crm or platform.
"""
