"""The demo portal that `kompas run` creates on a fresh machine."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django_tenants.utils import tenant_context

from identity.accounts.models import User
from identity.accounts.services import get_or_create_account
from identity.members.services import add_member
from kompas.provisioning import create_portal
from tenants.models import Tenant

DEMO_SLUG = "demo"
DEMO_NAME = "Demo Sp. z o.o."
DEMO_ADMIN_EMAIL = "admin@demo.localhost"
# Colleagues so the portal does not look empty; sample CRM records are added with them.
DEMO_TEAM = [
    ("anna.nowak@demo.localhost", "Anna Nowak"),
    ("piotr.wisniewski@demo.localhost", "Piotr Wiśniewski"),
    ("katarzyna.wojcik@demo.localhost", "Katarzyna Wójcik"),
]


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str


def _credentials_file() -> Path:
    return Path(settings.KOMPAS_DATA_DIR) / "demo-login.json"


def _remembered_password() -> str | None:
    try:
        return json.loads(_credentials_file().read_text())["password"]
    except (OSError, ValueError, KeyError):
        return None


def _remember_password(password: str) -> None:
    path = _credentials_file()
    path.write_text(json.dumps({"email": DEMO_ADMIN_EMAIL, "password": password}))
    path.chmod(0o600)


def ensure_demo_portal() -> DemoLogin:
    """Create the demo portal once; on later starts only make sure its login still works."""
    password = _remembered_password()
    tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
    if tenant is None:
        password = password or secrets.token_urlsafe(12)
        tenant = create_portal(name=DEMO_NAME, slug=DEMO_SLUG, owner_email=DEMO_ADMIN_EMAIL,
                               owner_password=password, owner_name="Administrator Demo").tenant
        _add_team(tenant)
        _add_sample_crm(tenant)
        _remember_password(password)
        return DemoLogin(DEMO_ADMIN_EMAIL, password)
    admin = User.objects.get(email=DEMO_ADMIN_EMAIL)
    if password is None or not admin.check_password(password):
        # The file was lost or the password changed: issue a fresh one rather than print a wrong one.
        password = secrets.token_urlsafe(12)
        admin.set_password(password)
        admin.save(update_fields=["password"])
        _remember_password(password)
    return DemoLogin(DEMO_ADMIN_EMAIL, password)


def _add_team(tenant: Tenant) -> None:
    for email, full_name in DEMO_TEAM:
        user, _ = get_or_create_account(email=email, full_name=full_name, password=secrets.token_urlsafe(16))
        with tenant_context(tenant):
            add_member(user=user)


def _add_sample_crm(tenant: Tenant) -> None:
    """A few records of every kind so the demo shows a working CRM, not empty lists."""
    from crm.core.samples import add_sample_records

    with tenant_context(tenant):
        add_sample_records()
