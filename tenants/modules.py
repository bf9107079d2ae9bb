"""The CRM modules a portal can switch off, and the reads every surface asks.

A portal's ``Tenant.modules`` holds ``{key: False}`` for each module switched off (an absent key
means on), so a module added later starts on everywhere. Switching a module off hides it and
keeps its records: nothing is deleted, and switching it on again brings everything back.

Two checks, both fed by the one registry below:
- addresses: ``ModulesMiddleware`` answers 404 (the web app's page or the API's error shape)
  for every page and API path a module that is off owns; the navigation, the settings hub and
  the setup checklist use the same ``path_enabled`` to leave its links out;
- records: the permission layer (identity.members.permissions.scope_of) gives no right on the
  entities of a module that is off, so search, related lists, exports, lookups and the
  dashboard show none of its records.

Contacts and companies are the core of the CRM and are not in the registry: they cannot be
switched off. Everything here reads the tenant object the request (or job) already holds, so
it costs no query. Tenants sits below the CRM (import layers), so modules name their addresses
and entities as plain strings rather than importing the CRM's views.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# A record page's quick-add address: /crm/<type>/<id>/add/<kind>/.
_QUICK_ADD = r"^/crm/[\w-]+/\d+/add/"


@dataclass(frozen=True)
class Module:
    key: str
    label: object  # lazily translated
    description: object
    # Modules this one cannot work without; switching one of them off is refused while this is on.
    requires: tuple[str, ...] = ()
    # Permission-layer entity codes whose records disappear with the module.
    entities: tuple[str, ...] = ()
    # Regular expressions of the paths (pages and API) the module owns; a path several modules
    # own (a deal's quotes) answers only while all of them are on.
    paths: tuple[str, ...] = ()

    @cached_property
    def pattern(self) -> re.Pattern:
        return re.compile("|".join(f"(?:{path})" for path in self.paths))


def _record_paths(slug: str, entity: str) -> tuple[str, ...]:
    """A record type's list, record pages, duplicates finder, lookups, API and export."""
    return (rf"^/crm/{slug}/", rf"^/crm/(?:duplicates|lookup)/{slug}/", rf"^/api/v1/{slug}/",
            rf"^/api/v1/export/{entity}/")


MODULES: tuple[Module, ...] = (
    Module("leads", gettext_lazy("Leads"),
           gettext_lazy("Enquiries before they become customers; conversion, repeat and recurring leads."),
           requires=("deals",), entities=("lead",),
           paths=(*_record_paths("leads", "lead"), r"^/crm/recurring-leads/", r"^/api/v1/recurring-leads/",
                  r"^/settings/crm/conversion/")),
    Module("deals", gettext_lazy("Deals"),
           gettext_lazy("Deals on pipelines of stages, the kanban board and the sales forecast."),
           entities=("deal",),
           paths=(*_record_paths("deals", "deal"), r"^/crm/forecast/", r"^/api/v1/forecast/",
                  r"^/api/v1/pipelines/", r"^/settings/crm/pipelines/", r"^/api/v1/settings/(?:pipelines|stages)/")),
    Module("products", gettext_lazy("Products"),
           gettext_lazy("The product catalogue with prices and photos, and products on deals."),
           entities=("product",),
           paths=(*_record_paths("products", "product"), r"^/crm/deals/\d+/products/",
                  r"^/api/v1/deals/\d+/products/")),
    Module("quotes", gettext_lazy("Quotes"),
           gettext_lazy("Quotes made from a deal's products, with a PDF and a page where the client accepts."),
           requires=("deals", "products"), entities=("quote",),
           paths=(*_record_paths("quotes", "quote"), r"^/crm/deals/\d+/quotes/", r"^/settings/crm/quotes/",
                  r"^/q/")),
    Module("invoices", gettext_lazy("Invoices"),
           gettext_lazy("Pro-forma and VAT invoices, payments, reminders and recurring invoices."),
           entities=("invoice",),
           paths=(*_record_paths("invoices", "invoice"), r"^/settings/crm/invoices/")),
    Module("tasks", gettext_lazy("Tasks"),
           gettext_lazy("Tasks with deadlines, subtasks and the calendar."),
           entities=("task",),
           paths=(*_record_paths("tasks", "task"), _QUICK_ADD + r"task/")),
    Module("activities", gettext_lazy("Calls and meetings"),
           gettext_lazy("Logging calls and meetings on records, and today's agenda on the dashboard. "
                        "Notes stay available."),
           paths=(_QUICK_ADD + r"(?:call|meeting)/",)),
)
KEYS = tuple(module.key for module in MODULES)
_BY_KEY = {module.key: module for module in MODULES}
_BY_ENTITY = {entity: module.key for module in MODULES for entity in module.entities}
# Activity kinds that belong to the "activities" module (notes and comments are always there).
ACTIVITY_KINDS = frozenset({"call", "meeting"})


def module(key: str) -> Module:
    try:
        return _BY_KEY[key]
    except KeyError:
        raise LookupError(f"unknown module {key!r}") from None


# --- Reads -------------------------------------------------------------------------------------

def _tenant(tenant=None):
    return tenant if tenant is not None else getattr(connection, "tenant", None)


def switched_off(tenant=None) -> frozenset[str]:
    """Keys of the modules the portal switched off (none on the public schema or without a tenant)."""
    stored = getattr(_tenant(tenant), "modules", None) or {}
    return frozenset(key for key, on in stored.items() if key in _BY_KEY and on is False)


def is_enabled(key: str, tenant=None) -> bool:
    module(key)  # a typo in a key is a programming error, not a silent "on"
    return key not in switched_off(tenant)


def states(tenant=None) -> dict[str, bool]:
    """Every module's key → on/off, in the registry's order."""
    off = switched_off(tenant)
    return {key: key not in off for key in KEYS}


def entity_enabled(entity_code: str, tenant=None) -> bool:
    """False for the entities of a module that is off; entities of no module are always on."""
    key = _BY_ENTITY.get(entity_code)
    return key is None or key not in switched_off(tenant)


def modules_for_path(path: str) -> list[Module]:
    return [candidate for candidate in MODULES if candidate.pattern.match(path)]


def blocking_module(path: str, tenant=None) -> Module | None:
    """The first module owning ``path`` that is off, or None when the path is available."""
    off = switched_off(tenant)
    if not off:
        return None
    return next((candidate for candidate in modules_for_path(path) if candidate.key in off), None)


def path_enabled(path: str, tenant=None) -> bool:
    return blocking_module(path, tenant) is None


def keep_enabled(items: Iterable, url: Callable[[object], str], tenant=None) -> list:
    """The items whose address (``url(item)``) belongs to no module that is off."""
    return [item for item in items if path_enabled(url(item), tenant)]


# --- Switching off: refusal, checks and the 404 --------------------------------------------------

def off_message(key: str) -> str:
    return _("The \"%(module)s\" module is switched off in this portal. An administrator can switch it on in "
             "Settings → Portal → Modules; nothing recorded in it has been deleted.") % {
        "module": module(key).label}


class ModuleOff(Http404):
    """Raised where a module that is off is reached other than by its address (a service call)."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(off_message(key))


def require(key: str, tenant=None) -> None:
    if not is_enabled(key, tenant):
        raise ModuleOff(key)


def check_combination(states_wanted: dict[str, bool]) -> None:
    """Refuse modules switched on without the modules they need, naming both."""
    errors = []
    for candidate in MODULES:
        if not states_wanted.get(candidate.key, True):
            continue
        for needed in candidate.requires:
            if not states_wanted.get(needed, True):
                errors.append(_("The \"%(module)s\" module needs \"%(needed)s\": switch \"%(needed)s\" on, or "
                                "switch \"%(module)s\" off as well.") % {
                    "module": candidate.label, "needed": module(needed).label})
    if errors:
        raise ValidationError({"modules": errors})


def not_found_response(request: HttpRequest, key: str) -> HttpResponse:
    """404 in the API's one error shape (crm.core.api, written here because tenants sits below the
    CRM) or as the web app's page."""
    message = off_message(key)
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "module_off", "message": message, "fields": {}, "module": key},
                             "detail": message}, status=404)
    body = render_to_string("tenants/module_off.html", {"message": message, "module": module(key)},
                            request=request)
    return HttpResponse(body, status=404)


class ModulesMiddleware:
    """Pages and API paths of a module that is off answer 404 saying so; nothing else changes."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if tenant is not None and not tenant.is_public:
            blocked = blocking_module(request.path_info, tenant)
            if blocked is not None:
                return not_found_response(request, blocked.key)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, ModuleOff):
            return not_found_response(request, exception.key)
        return None
