"""Every CRM entity × action × scope through the surfaces the CRM has: the querysets behind lists,
search and the kanban (crm.core.selectors), one-record reads, and the write services.

Together with identity's walk of ``permissions.can`` this is the generated matrix of the identity
issue: a new record type joins it by registering itself in crm.core.registry.
"""

from __future__ import annotations

import itertools

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django_tenants.utils import tenant_context

from crm.core import selectors, services
from crm.core.registry import record_types
from identity.accounts.models import User
from identity.members.models import Action, Role, RolePermission, Scope
from identity.members.services import add_member, assign, create_department

pytestmark = pytest.mark.django_db

REACH = {
    Scope.NONE: set(),
    Scope.OWN: {"actor"},
    Scope.DEPARTMENT: {"actor", "colleague"},
    Scope.DEPARTMENT_TREE: {"actor", "colleague", "krakow"},
    Scope.ALL: {"actor", "colleague", "krakow", "finance"},
}

VALUES = {
    "contact": {"last_name": "Wiśniewska"},
    "company": {"name": "Ogrodnictwo Źdźbło s.c."},
    "lead": {"title": "Zapytanie o ofertę"},
    "deal": {"title": "Dostawa sadzonek"},
    "task": {"title": "Oddzwonić do klienta"},
    "invoice": {"buyer_name": "Przedsiębiorstwo Usługowe Źródło sp. z o.o."},
    "product": {"name": "Sadzonka świerku"}, "quote": {"title": "Oferta na sadzonki"},
}


@pytest.fixture
def company_with_records(portal_a):
    """Sprzedaż ⊃ Sprzedaż Kraków, and Finanse; one record of every type owned by each person."""
    from identity.members.models import Membership

    with tenant_context(portal_a.tenant):
        admin = Membership.objects.get(user=portal_a.owner)
        sales = create_department(name="Sprzedaż")
        krakow = create_department(name="Sprzedaż Kraków", parent=sales)
        finance = create_department(name="Finanse")
        people = {}
        for key, department in [("actor", sales), ("colleague", sales), ("krakow", krakow), ("finance", finance)]:
            user = User.objects.create_user(email=f"{key}@alfa-handel.pl", password=None, full_name=key)
            people[key] = assign(membership=add_member(user=user), department=department)
        records = {code: {key: services.create_record(actor=admin, code=code,
                                                      values=VALUES[code] | {"owner": member.pk})
                          for key, member in people.items()}
                   for code in VALUES}
        yield people, records


def test_the_matrix_covers_every_registered_record_type():
    assert {rt.code for rt in record_types()} == set(VALUES)


@pytest.mark.parametrize(("code", "action", "scope"), list(itertools.product(
    sorted(VALUES), [Action.READ, Action.EDIT, Action.DELETE], Scope.values)))
def test_crm_surfaces_agree_on_every_entity_action_and_scope(company_with_records, code, action, scope):
    people, records = company_with_records
    actor = people["actor"]
    role = Role.objects.create(name=f"{code}-{action}-{scope}")
    RolePermission.objects.create(role=role, entity=code, action=action, scope=scope)
    if action != Action.READ:  # changing a record you cannot see is not a case the product has
        RolePermission.objects.create(role=role, entity=code, action=Action.READ, scope=Scope.ALL)
    actor = assign(membership=actor, role=role)
    by_owner = {record.pk: key for key, record in records[code].items()}

    listed = {by_owner[pk] for pk in selectors.records(actor, code, action=action).values_list("pk", flat=True)
              if pk in by_owner}
    assert listed == REACH[scope]

    if action == Action.READ:
        opened = set()
        for key, record in records[code].items():
            try:
                selectors.record_for(actor, code, record.pk)
                opened.add(key)
            except Http404:
                pass
        assert opened == REACH[scope]
        return

    changed = set()
    for key, record in records[code].items():
        try:
            if action == Action.EDIT:
                services.update_record(actor=actor, record=record, values={"tags": ["sprawdzone"]})
            else:
                services.delete_record(actor=actor, record=record)
            changed.add(key)
        except PermissionDenied:
            pass
    assert changed == REACH[scope]
