"""Partners and their people for the partner-portal tests (portals come from kompas.testing.fixtures)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context, tenant_context

from identity.accounts.models import User
from tenants.models import Partner, PartnerMember
from tenants.services import create_partner

PASSWORD = "Partnerskie-haslo-2026"


@dataclass
class PartnerFixture:
    partner: Partner
    admin: User
    admin_member: PartnerMember

    def add(self, email: str, role: str = PartnerMember.Role.MEMBER) -> PartnerMember:
        user = User.objects.create_user(email=email, password=PASSWORD, full_name=email.split("@")[0].title())
        return PartnerMember.objects.create(partner=self.partner, user=user, role=role)


def public_client(user: User | None = None) -> Client:
    client = Client(HTTP_HOST=settings.BASE_DOMAIN, HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        with schema_context("public"):  # the public host's sessions, whatever a previous request left active
            client.force_login(user)
    return client


def portal_client(tenant, user: User) -> Client:
    """A browser signed in on the portal's own host (its session lives in the portal's schema)."""
    client = Client(HTTP_HOST=f"{tenant.slug}.{settings.BASE_DOMAIN}", HTTP_ACCEPT_LANGUAGE="en")
    with tenant_context(tenant):
        assert client.login(username=user.email, password=PASSWORD)
    return client


def make_partner(slug: str, name: str) -> PartnerFixture:
    partner = create_partner(name=name, slug=slug, email=f"biuro@{slug}.pl")
    admin = User.objects.create_user(email=f"szef@{slug}.pl", password=PASSWORD, full_name=f"Szef {name}")
    member = PartnerMember.objects.create(partner=partner, user=admin, role=PartnerMember.Role.ADMIN)
    return PartnerFixture(partner=partner, admin=admin, admin_member=member)


@pytest.fixture
def agency(portals, db) -> PartnerFixture:
    return make_partner("wdrozenia-crm", "Wdrożenia CRM Sp. z o.o.")


@pytest.fixture
def other_agency(portals, db) -> PartnerFixture:
    return make_partner("konkurencja", "Konkurencja IT")


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks):
    """E-mails leave after commit; tests run inside a transaction, so run those callbacks."""
    return django_capture_on_commit_callbacks
