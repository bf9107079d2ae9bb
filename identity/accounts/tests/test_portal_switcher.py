"""One account, several portals: the switcher lists them; membership still decides sign-in."""

import pytest
from django_tenants.utils import tenant_context

from identity.accounts.selectors import portals_of
from identity.members.models import Membership
from identity.members.services import add_member, deactivate_member

pytestmark = pytest.mark.django_db


def test_a_person_in_two_portals_sees_both_in_the_switcher(portal_a, portal_b):
    with tenant_context(portal_b.tenant):
        add_member(user=portal_a.owner)
    assert [tenant.slug for tenant in portals_of(portal_a.owner)] == ["alfa", "beta"]
    home = portal_a.client(logged_in=True).get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Your portals" in home
    assert 'href="http://beta.kompas.test/"' in home


def test_one_portal_shows_no_switcher(portal_a):
    home = portal_a.client(logged_in=True).get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Your portals" not in home


def test_a_deactivated_membership_leaves_the_switcher_but_keeps_the_data(portal_a, portal_b):
    with tenant_context(portal_b.tenant):
        membership = add_member(user=portal_a.owner)
        deactivate_member(membership=membership)
        assert Membership.objects.filter(pk=membership.pk, is_active=False).exists()
    assert [tenant.slug for tenant in portals_of(portal_a.owner)] == ["alfa"]


def test_the_owner_cannot_be_deactivated(portal_a):
    from django.core.exceptions import ValidationError

    with tenant_context(portal_a.tenant):
        owner = Membership.objects.get(user=portal_a.owner)
        with pytest.raises(ValidationError):
            deactivate_member(membership=owner)
