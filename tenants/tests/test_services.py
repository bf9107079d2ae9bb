"""Portal addresses follow DNS rules and platform reservations; creation is all or nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import translation

from tenants.models import Domain, Tenant
from tenants.services import create_tenant, validate_slug

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("slug", ["abc", "firma-123", "a1b", "x" * 63, "Kowalski-Serwis"])
def test_valid_portal_addresses(slug):
    assert validate_slug(slug) == slug.lower()


@pytest.mark.parametrize(
    ("slug", "reason"),
    [
        ("ab", "at least 3 characters"),
        ("x" * 64, "at most 63 characters"),
        ("-firma", "cannot start or end with a hyphen"),
        ("firma-", "cannot start or end with a hyphen"),
        ("żółw", "only lower-case letters"),
        ("moja firma", "only lower-case letters"),
        ("xn--abc", "reserved for international names"),
        ("www", "reserved"),
        ("admin", "reserved"),
        ("API", "reserved"),
    ],
)
def test_invalid_portal_addresses_name_the_field_and_the_reason(slug, reason):
    with translation.override("en"), pytest.raises(ValidationError) as error:
        validate_slug(slug)
    assert reason in error.value.message_dict["slug"][0]


def test_portal_address_is_unique_ignoring_case(portal_a):
    with translation.override("en"), pytest.raises(ValidationError) as error:
        validate_slug("ALFA")
    assert "already taken" in error.value.message_dict["slug"][0]


def test_reason_is_given_in_polish_too():
    with translation.override("pl"), pytest.raises(ValidationError) as error:
        validate_slug("www")
    assert error.value.message_dict["slug"][0] == "Ten adres portalu jest zarezerwowany. Wybierz inny."


def test_a_portal_without_a_name_is_refused_before_anything_is_written():
    before = Tenant.objects.count()
    with translation.override("en"), pytest.raises(ValidationError) as error:
        create_tenant(name="   ", slug="bez-nazwy")
    assert "name" in error.value.message_dict
    assert Tenant.objects.count() == before


def _schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [name])
        return cursor.fetchone() is not None


def test_failure_while_creating_a_portal_leaves_no_row_schema_or_domain(monkeypatch):
    created_schema: list[str] = []
    original_create = Domain.objects.create

    def failing_domain_create(**kwargs):
        created_schema.append(kwargs["tenant"].schema_name)
        raise RuntimeError("disk full")

    monkeypatch.setattr(Domain.objects, "create", failing_domain_create)
    with pytest.raises(RuntimeError):
        create_tenant(name="Gamma Usługi", slug="gamma")
    monkeypatch.setattr(Domain.objects, "create", original_create)

    assert not Tenant.objects.filter(slug="gamma").exists()
    assert not Domain.objects.filter(domain__startswith="gamma.").exists()
    assert created_schema and not _schema_exists(created_schema[0])


def test_schema_name_is_an_internal_id_not_the_portal_address(portal_a):
    assert portal_a.tenant.schema_name.startswith("t_")
    assert portal_a.tenant.schema_name != portal_a.tenant.slug
