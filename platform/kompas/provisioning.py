"""Creating a whole portal: the tenant (tenants layer) plus its owner (identity layer).

Lives in the platform layer because it is the one place allowed to compose both.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import translation
from django_tenants.utils import tenant_context

from billing.services import start_trial
from identity.accounts.models import User
from identity.accounts.services import get_or_create_account
from identity.members.services import add_owner
from tenants.models import Tenant
from tenants.services import create_tenant


@dataclass(frozen=True)
class NewPortal:
    tenant: Tenant
    owner: User
    owner_created: bool


def set_up_crm() -> None:
    """What a new portal's CRM starts with, named in the portal's language: a sales pipeline and
    the usual acquisition sources and contact types."""
    from crm.deals.services import default_pipeline
    from crm.dictionaries.services import seed_defaults

    default_pipeline()
    seed_defaults()


def create_portal(*, name: str, slug: str, owner_email: str, owner_password: str | None = None,
                  owner_name: str = "", kind: str = Tenant.Kind.COMPANY, language: str = "pl") -> NewPortal:
    """Portal + schema + trial subscription + owner account + owner membership, all or nothing."""
    with transaction.atomic():
        owner, created = get_or_create_account(email=owner_email, full_name=owner_name, password=owner_password)
        tenant = create_tenant(name=name, slug=slug, kind=kind, language=language)
        start_trial(tenant=tenant)
        with tenant_context(tenant), translation.override(language):
            add_owner(user=owner)
            set_up_crm()
    return NewPortal(tenant=tenant, owner=owner, owner_created=created)
