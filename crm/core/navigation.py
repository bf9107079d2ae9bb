"""The portal's main navigation: the CRM sections a member may read, in one query per page."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from identity.members.models import Membership, RolePermission, Scope
from tenants import modules


@dataclass(frozen=True)
class NavItem:
    key: str
    label: object
    url: str
    entity: str | None = None


ITEMS = [
    NavItem("dashboard", _("Dashboard"), "/"),
    NavItem("leads", _("Leads"), "/crm/leads/", "lead"),
    NavItem("deals", _("Deals"), "/crm/deals/board/", "deal"),
    NavItem("contacts", _("Contacts"), "/crm/contacts/", "contact"),
    NavItem("companies", _("Companies"), "/crm/companies/", "company"),
    NavItem("tasks", _("Tasks"), "/crm/tasks/", "task"),
    NavItem("forecast", _("Forecast"), "/crm/forecast/", "deal"),
    NavItem("quotes", _("Quotes"), "/crm/quotes/", "quote"),
    NavItem("invoices", _("Invoices"), "/crm/invoices/", "invoice"),
    NavItem("products", _("Products"), "/crm/products/", "product"),
]


def readable_entities(member: Membership | None) -> set[str]:
    """Entities the member may read, leaving out those of modules the portal switched off."""
    if member is None or not getattr(member, "is_active", False):
        return set()
    if member.has_admin_rights:
        readable = {item.entity for item in ITEMS if item.entity}
    elif not member.role_id:
        return set()
    else:
        readable = set(RolePermission.objects.filter(role_id=member.role_id, action="read")
                       .exclude(scope=Scope.NONE).values_list("entity", flat=True))
    return {code for code in readable if modules.entity_enabled(code)}


def navigation_for(member: Membership | None, path: str) -> list[dict]:
    readable = readable_entities(member)
    items = []
    for item in ITEMS:
        if (item.entity and item.entity not in readable) or not modules.path_enabled(item.url):
            continue
        section = item.url if item.key != "deals" else "/crm/deals/"
        active = path == "/" if item.url == "/" else path.startswith(section)
        items.append({"key": item.key, "label": item.label, "url": item.url, "active": active})
    return items
