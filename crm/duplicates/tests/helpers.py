"""Shared helpers for the duplicates tests (plain functions: tests under crm/ do not import kompas.testing)."""

from __future__ import annotations

from django.test import Client
from django_tenants.utils import tenant_context

from crm.core import services
from identity.accounts.models import User
from identity.members.models import Membership, Role
from identity.members.services import add_member, assign

HTMX = {"HTTP_HX_REQUEST": "true"}


def admin_of(portal) -> Membership:
    with tenant_context(portal.tenant):
        return Membership.objects.select_related("user").get(user=portal.owner)


def create(portal, code: str, values: dict, actor=None):
    with tenant_context(portal.tenant):
        return services.create_record(actor=actor or admin_of(portal), code=code, values=values)


def member_client(portal, email: str, role_code: str, full_name: str = "Piotr Wiśniewski") -> tuple[Client, Membership]:
    user = User.objects.create_user(email=email, password=portal.password, full_name=full_name)
    with tenant_context(portal.tenant):
        member = assign(membership=add_member(user=user), role=Role.objects.get(code=role_code))
        client = Client(HTTP_HOST=portal.host)
        assert client.login(username=email, password=portal.password)
    return client, member
