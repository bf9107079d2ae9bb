"""The modules registry and ``set_modules``: which addresses each module owns, dependencies refused
with the module named, only what changed is stored and audited, and one portal never another's."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from tenants import modules
from tenants.models import AuditEvent, Tenant
from tenants.services import set_modules

pytestmark = pytest.mark.django_db


def _fresh(portal) -> Tenant:
    return Tenant.objects.get(pk=portal.tenant.pk)


@pytest.mark.parametrize(("path", "owners"), [
    ("/crm/leads/", {"leads"}),
    ("/crm/leads/7/convert/", {"leads"}),
    ("/api/v1/leads/7/convert/", {"leads"}),
    ("/settings/crm/conversion/", {"leads"}),
    ("/crm/deals/board/", {"deals"}),
    ("/crm/forecast/", {"deals"}),
    ("/api/v1/settings/stages/3/", {"deals"}),
    ("/crm/deals/5/products/", {"deals", "products"}),
    ("/api/v1/deals/5/products/", {"deals", "products"}),
    ("/crm/deals/5/quotes/new/", {"deals", "quotes"}),
    ("/q/abc123/", {"quotes"}),
    ("/api/v1/export/invoice/", {"invoices"}),
    ("/crm/lookup/products/", {"products"}),
    ("/crm/contacts/4/add/task/", {"tasks"}),
    ("/crm/contacts/4/add/call/", {"activities"}),
    ("/crm/contacts/4/add/note/", set()),
    ("/crm/contacts/", set()),
    ("/api/v1/companies/", set()),
    ("/api/v1/activities/", set()),  # notes go through it too; calls are refused by the service
    ("/settings/portal/", set()),
])
def test_each_address_belongs_to_the_modules_that_own_it(path, owners):
    assert {item.key for item in modules.modules_for_path(path)} == owners


def test_a_module_that_is_off_blocks_its_paths_and_entities_only():
    tenant = Tenant(modules={"quotes": False, "unknown-old-key": False, "tasks": True})
    assert modules.switched_off(tenant) == {"quotes"}
    assert modules.blocking_module("/crm/deals/5/quotes/", tenant).key == "quotes"
    assert modules.path_enabled("/crm/deals/5/", tenant)
    assert not modules.entity_enabled("quote", tenant)
    assert modules.entity_enabled("deal", tenant) and modules.entity_enabled("contact", tenant)
    assert modules.states(Tenant(modules={})) == dict.fromkeys(modules.KEYS, True)


def test_contacts_and_companies_cannot_be_switched_off(portal_a):
    assert "contacts" not in modules.KEYS and "companies" not in modules.KEYS
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        set_modules(_fresh(portal_a), enabled={"contacts": False}, actor=portal_a.owner)
    assert "There is no module called contacts" in refused.value.message_dict["modules"][0]
    assert _fresh(portal_a).modules == {}


def test_switching_off_a_module_another_one_needs_is_refused_naming_both(portal_a):
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        set_modules(_fresh(portal_a), enabled={"products": False}, actor=portal_a.owner)
    assert refused.value.message_dict["modules"] == [
        'The "Quotes" module needs "Products": switch "Products" on, or switch "Quotes" off as well.']
    with translation.override("en"), pytest.raises(ValidationError) as refused:
        set_modules(_fresh(portal_a), enabled={"deals": False, "quotes": False}, actor=portal_a.owner)
    assert refused.value.message_dict["modules"] == [
        'The "Leads" module needs "Deals": switch "Deals" on, or switch "Leads" off as well.']
    assert _fresh(portal_a).modules == {}  # nothing of a refused change is stored
    assert not AuditEvent.objects.filter(tenant=portal_a.tenant, action="portal.modules_changed").exists()
    # Switched off together, the combination is fine.
    set_modules(_fresh(portal_a), enabled={"products": False, "quotes": False}, actor=portal_a.owner)
    assert _fresh(portal_a).modules == {"products": False, "quotes": False}


def test_values_must_be_true_or_false(portal_a):
    with pytest.raises(ValidationError):
        set_modules(_fresh(portal_a), enabled={"tasks": "no"}, actor=portal_a.owner)
    assert _fresh(portal_a).modules == {}


def test_changes_are_audited_with_what_changed_and_keys_not_given_keep_their_state(portal_a, portal_b):
    tenant = _fresh(portal_a)
    set_modules(tenant, enabled={"invoices": False, "tasks": False}, actor=portal_a.owner)
    set_modules(tenant, enabled={"tasks": True}, actor=portal_a.owner)
    assert _fresh(portal_a).modules == {"invoices": False}
    assert tenant.modules == {"invoices": False}
    events = list(AuditEvent.objects.filter(tenant=portal_a.tenant, action="portal.modules_changed")
                  .order_by("created_at", "pk"))
    assert [(event.details["switched_off"], event.details["switched_on"]) for event in events] == [
        (["invoices", "tasks"], []), ([], ["tasks"])]
    assert events[0].actor == portal_a.owner and events[0].actor_kind == AuditEvent.ActorKind.TENANT
    set_modules(tenant, enabled={"tasks": True}, actor=portal_a.owner)  # no change, no audit line
    assert AuditEvent.objects.filter(tenant=portal_a.tenant, action="portal.modules_changed").count() == 2
    assert _fresh(portal_b).modules == {}
