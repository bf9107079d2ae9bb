"""Partners and their client portals: checked input, one partner per portal, unlinking that others can veto."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from tenants.models import Partner, Tenant
from tenants.services import create_partner, link_client_portal, unlink_client_portal
from tenants.signals import client_portal_unlinking

pytestmark = pytest.mark.django_db


def _partner(slug: str = "agencja-wektor") -> Partner:
    return create_partner(name="Agencja Wektor Sp. z o.o.", slug=slug, email="rozliczenia@wektor.pl")


def test_a_partner_is_created_with_a_canonical_address():
    partner = create_partner(name="  Agencja Wektor  ", slug="Agencja-Wektor", email=" biuro@wektor.pl ")
    assert (partner.name, partner.slug, partner.email) == ("Agencja Wektor", "agencja-wektor", "biuro@wektor.pl")
    assert partner.created_at is not None


@pytest.mark.parametrize(("fields", "field", "reason"), [
    ({"name": " "}, "name", "enter the partner's name"),
    ({"slug": "ab"}, "slug", "3 to 63 characters"),
    ({"slug": "-wektor"}, "slug", "not at the start or the end"),
    ({"slug": "żuraw"}, "slug", "lower-case letters"),
    ({"email": "rozliczenia@"}, "email", "valid contact e-mail"),
])
def test_bad_partner_input_names_the_field_and_the_reason_and_writes_nothing(fields, field, reason):
    values = {"name": "Agencja Wektor", "slug": "agencja-wektor", "email": "biuro@wektor.pl", **fields}
    with translation.override("en"), pytest.raises(ValidationError) as error:
        create_partner(**values)
    assert reason in error.value.message_dict[field][0]
    assert not Partner.objects.exists()


def test_a_partner_address_is_unique_ignoring_case():
    _partner()
    with translation.override("en"), pytest.raises(ValidationError) as error:
        create_partner(name="Inna agencja", slug="AGENCJA-WEKTOR", email="biuro@inna.pl")
    assert "already taken" in error.value.message_dict["slug"][0]


def test_a_portal_is_linked_once_and_unlinked_without_losing_anything(portal_a):
    partner = _partner()
    link_client_portal(partner=partner, tenant=portal_a.tenant)
    link_client_portal(partner=partner, tenant=portal_a.tenant)  # idempotent
    assert list(partner.client_portals.all()) == [Tenant.objects.get(pk=portal_a.tenant.pk)]

    unlink_client_portal(tenant=portal_a.tenant)
    unlink_client_portal(tenant=portal_a.tenant)  # idempotent
    assert Tenant.objects.get(pk=portal_a.tenant.pk).partner is None
    assert Partner.objects.filter(pk=partner.pk).exists()


def test_a_portal_of_one_partner_cannot_be_taken_over_by_another(portal_a):
    first = _partner()
    link_client_portal(partner=first, tenant=portal_a.tenant)
    other = create_partner(name="Studio Orbita", slug="studio-orbita", email="biuro@orbita.pl")
    with translation.override("en"), pytest.raises(ValidationError) as error:
        link_client_portal(partner=other, tenant=portal_a.tenant)
    assert error.value.message_dict["tenant"] == [
        "Agencja Wektor Sp. z o.o. already manages this portal as its client. Unlink it from that partner first."]
    assert Tenant.objects.get(pk=portal_a.tenant.pk).partner_id == first.pk


def test_the_public_site_is_nobodys_client(portals):
    with translation.override("en"), pytest.raises(ValidationError) as error:
        link_client_portal(partner=_partner(), tenant=Tenant.objects.get(schema_name="public"))
    assert "public site" in error.value.message_dict["tenant"][0]


def test_a_receiver_that_refuses_keeps_the_portal_linked(portal_a):
    partner = _partner()
    link_client_portal(partner=partner, tenant=portal_a.tenant)
    seen = []

    def refuse(sender, *, tenant, partner, **kwargs):
        seen.append((tenant.pk, partner.pk))
        raise ValidationError("still paid for by the partner")

    client_portal_unlinking.connect(refuse, dispatch_uid="test-refuse")
    try:
        with pytest.raises(ValidationError):
            unlink_client_portal(tenant=portal_a.tenant)
    finally:
        client_portal_unlinking.disconnect(dispatch_uid="test-refuse")
    assert seen == [(portal_a.tenant.pk, partner.pk)]
    assert Tenant.objects.get(pk=portal_a.tenant.pk).partner_id == partner.pk


def test_deleting_a_partner_without_billing_keeps_its_client_portals(portal_a):
    partner = _partner()
    link_client_portal(partner=partner, tenant=portal_a.tenant)
    partner.delete()
    assert Tenant.objects.get(pk=portal_a.tenant.pk).partner is None
