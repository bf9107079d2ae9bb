"""Handing a leaving person's records to a colleague (identity issue, needs the CRM's records)."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from crm.contacts.models import Contact
from crm.core import services
from crm.core.models import ChangeEntry
from crm.core.reassign import reassign_records
from crm.deals.models import Deal, StageKind
from identity.accounts.models import User
from identity.members import permissions
from identity.members.models import Membership
from identity.members.services import add_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def team(portal_a):
    with tenant_context(portal_a.tenant):
        admin = Membership.objects.get(user=portal_a.owner)
        leaving = add_member(user=User.objects.create_user(email="odchodzi@alfa-handel.pl", password=None,
                                                           full_name="Jerzy Odchodzący"))
        taking = add_member(user=User.objects.create_user(email="przejmuje@alfa-handel.pl", password=None,
                                                          full_name="Halina Przejmująca"))
        yield admin, leaving, taking


def test_open_work_moves_with_history_and_closed_deals_stay(team):
    admin, leaving, taking = team
    contact = services.create_record(actor=admin, code="contact", values={"last_name": "Klientowa",
                                                                          "owner": leaving.pk})
    open_deal = services.create_record(actor=admin, code="deal", values={"title": "Otwarty", "owner": leaving.pk})
    won = open_deal.pipeline.stages.get(kind=StageKind.WON)
    won_deal = services.create_record(actor=admin, code="deal", values={"title": "Wygrany", "owner": leaving.pk,
                                                                        "stage": won.pk})
    moved = reassign_records(actor=admin, from_member=leaving, to_member=taking, open_only=True)
    assert moved["contact"] == 1 and moved["deal"] == 1
    assert Contact.objects.get(pk=contact.pk).owner == taking
    assert Deal.objects.get(pk=open_deal.pk).owner == taking
    assert Deal.objects.get(pk=won_deal.pk).owner == leaving
    line = ChangeEntry.objects.get(entity="contact", record_id=contact.pk, field="owner")
    assert (line.old_value, line.new_value) == ("Jerzy Odchodzący", "Halina Przejmująca")


def test_only_administrators_hand_over_and_never_to_an_inactive_person(team):
    admin, leaving, taking = team
    with pytest.raises(permissions.NotPermitted):
        reassign_records(actor=taking, from_member=leaving, to_member=taking)
    taking.is_active = False
    taking.save()
    from django.core.exceptions import ValidationError
    with pytest.raises(ValidationError):
        reassign_records(actor=admin, from_member=leaving, to_member=taking)


def test_the_hand_over_page_moves_records_and_refuses_another_portal(portal_a, portal_b, team):
    admin, leaving, taking = team
    services.create_record(actor=admin, code="task", values={"title": "Oddzwonić", "owner": leaving.pk})
    client = portal_a.client(logged_in=True)
    page = client.get(f"/settings/people/{leaving.pk}/reassign/")
    assert page.status_code == 200 and "Jerzy Odchodzący" in page.content.decode()
    response = client.post(f"/settings/people/{leaving.pk}/reassign/",
                           {"codes": ["task"], "to_member": taking.pk, "open_only": "1"})
    assert response.status_code == 302
    from crm.tasks.models import Task
    assert Task.objects.get(title="Oddzwonić").owner == taking
    for host in (portal_b.host, portal_b.host.upper()):
        refused = client.post(f"/settings/people/{leaving.pk}/reassign/",
                              {"codes": ["task"], "to_member": taking.pk}, HTTP_HOST=host)
        assert refused.status_code in (302, 403, 404)
    assert Client(HTTP_HOST=portal_a.host).get(f"/settings/people/{leaving.pk}/reassign/").status_code == 302
