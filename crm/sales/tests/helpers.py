"""Shared set-up of the sales-flow tests (plain functions; the portal fixtures come from the plugin)."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from crm.core import services
from crm.deals import services as deals
from crm.deals.models import StageKind
from identity.members.models import Membership, Role
from identity.members.services import add_member, assign


def owner_of(portal) -> Membership:
    return Membership.objects.select_related("user").get(user=portal.owner)


def member(portal, email: str, role_code: str, full_name: str = "Anna Nowak") -> Membership:
    """A member with a default role; call inside tenant_context."""
    from identity.accounts.models import User

    user = User.objects.create_user(email=email, password=portal.password, full_name=full_name)
    return assign(membership=add_member(user=user), role=Role.objects.get(code=role_code))


def signed_in(portal, email: str):
    from django.test import Client

    client = Client(HTTP_HOST=portal.host)
    with tenant_context(portal.tenant):
        assert client.login(username=email, password=portal.password)
    return client


def open_stages():
    pipeline = deals.default_pipeline()
    return pipeline, list(pipeline.stages.filter(kind=StageKind.OPEN).order_by("position", "id"))


def lead(actor, **values):
    base = {"title": "Zapytanie o system kasowy", "first_name": "Łukasz", "last_name": "Żółtowski",
            "company_name": "Piekarnia Złoty Kłos", "emails": ["lukasz@zlotyklos.pl"], "phones": ["600 100 200"],
            "position": "Właściciel", "value": "24000"}
    return services.create_record(actor=actor, code="lead", values=base | values)


def in_portal(portal):
    return tenant_context(portal.tenant)
