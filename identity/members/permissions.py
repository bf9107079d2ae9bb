"""The one permission layer: every surface (pages, API, exports, search, kanban, bulk actions)
asks here, so no surface can show what another hides.

A right is (entity, action) → scope. Entities are registered by the apps that own them
(crm registers lead, deal, …) with the field that names the record's owner (a Membership);
the registry lists the CRM's entities from the start so roles can be set up before the CRM
modules exist.

``scope_q`` turns a member's scope into a queryset filter; ``can`` answers for one record by
its owner. Both use the same rule, so a list never shows a record its detail page would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from identity.members.models import Action, ApiKey, FieldAccess, FieldRule, Membership, RolePermission, Scope
from tenants import modules

Principal = Membership | ApiKey

# From narrowest to widest; an owner who is "in scope" at one level is in scope at every wider one.
SCOPE_ORDER = [Scope.NONE, Scope.OWN, Scope.DEPARTMENT, Scope.DEPARTMENT_TREE, Scope.ALL]


@dataclass(frozen=True)
class Entity:
    code: str
    label: object  # lazily translated
    owner_field: str = "owner"  # "" means the record is the member itself (the people directory)
    model: str | None = None  # "app_label.Model" once the module exists; the matrix test then checks querysets
    # Lists the entity's fields as (name, label) for field rules; given by the app that owns the
    # entity (the CRM knows its custom fields, identity does not).
    fields: object = None


_entities: dict[str, Entity] = {}


def register_entity(code: str, label, owner_field: str = "owner", model: str | None = None,
                    fields=None) -> Entity:
    entity = Entity(code=code, label=label, owner_field=owner_field, model=model, fields=fields)
    _entities[code] = entity
    return entity


def entities() -> list[Entity]:
    return list(_entities.values())


def entity(code: str) -> Entity:
    try:
        return _entities[code]
    except KeyError:
        raise ValueError(f"unknown entity {code!r}") from None


for _code, _label in [
    ("lead", gettext_lazy("leads")), ("deal", gettext_lazy("deals")), ("contact", gettext_lazy("contacts")),
    ("company", gettext_lazy("companies")), ("quote", gettext_lazy("quotes")),
    ("invoice", gettext_lazy("invoices")), ("task", gettext_lazy("tasks")), ("product", gettext_lazy("products")),
]:
    register_entity(_code, _label)
register_entity("member", gettext_lazy("people"), owner_field="", model="members.Membership")


class NotPermitted(PermissionDenied):
    """Says which right is missing, in the user's language."""

    def __init__(self, *, entity_code: str, action: str) -> None:
        self.entity_code, self.action = entity_code, action
        super().__init__(_("You have no permission to %(action)s %(entity)s in this portal. Ask an administrator "
                           "to change your role if you need it.")
                         % {"action": Action(action).label, "entity": entity(entity_code).label})


def _owns_records(principal: Principal) -> bool:
    return isinstance(principal, Membership)


def scope_of(member: Principal | None, entity_code: str, action: str) -> str:
    """The member's scope for one right; one query, or none for administrators."""
    entity(entity_code)  # unknown entities are a programming error, not a silent "none"
    if member is None or not member or not member.is_active:
        return Scope.NONE
    if not modules.entity_enabled(entity_code):
        return Scope.NONE  # the portal switched the entity's module off: its records are out of reach, not gone
    if member.has_admin_rights:
        return Scope.ALL
    if not member.role_id:
        return Scope.NONE
    return _rights_of(member).get((entity_code, action), Scope.NONE)


def _rights_of(member: Principal) -> dict[tuple[str, str], str]:
    """Every right of the member's role, read once per member object (one per request) and again
    if the role changes: a page asking about five entities costs one query, not five."""
    return _role_data(member)[0]


def _role_data(member: Principal) -> tuple[dict[tuple[str, str], str], dict[str, dict[str, str]]]:
    """The role's rights and field rules in one query (UNION ALL), kept on the member object."""
    cached = getattr(member, "_role_cache", None)
    if cached is not None and cached[0] == member.role_id:
        return cached[1]
    from django.db.models import CharField, Value

    rights_rows = RolePermission.objects.filter(role_id=member.role_id).values_list(
        "entity", "action", "scope", Value("right", output_field=CharField()))
    rule_rows = FieldRule.objects.filter(role_id=member.role_id).values_list(
        "entity", "field", "access", Value("field", output_field=CharField()))
    rights: dict[tuple[str, str], str] = {}
    rules: dict[str, dict[str, str]] = {}
    for entity_code, name, value, kind in rights_rows.union(rule_rows, all=True):
        if kind == "right":
            rights[(entity_code, name)] = value
        else:
            rules.setdefault(entity_code, {})[name] = value
    member._role_cache = (member.role_id, (rights, rules))
    return rights, rules


# --- Field rules -------------------------------------------------------------------------------

def entity_fields(entity_code: str) -> list[tuple[str, str]]:
    spec = entity(entity_code)
    return list(spec.fields()) if spec.fields else []


def _field_rules_of(member: Principal) -> dict[str, dict[str, str]]:
    return _role_data(member)[1]


def _rules_for(member: Principal | None, entity_code: str) -> dict[str, str]:
    if member is None or not member or member.has_admin_rights or not member.role_id:
        return {}
    return _field_rules_of(member).get(entity_code, {})


def hidden_fields(member: Principal | None, entity_code: str) -> set[str]:
    """Fields the member must not see on any surface (pages, API, export, filters)."""
    return {field for field, access in _rules_for(member, entity_code).items() if access == FieldAccess.HIDDEN}


def read_only_fields(member: Principal | None, entity_code: str) -> set[str]:
    """Fields the member may not change (hidden ones included)."""
    return set(_rules_for(member, entity_code))


class FieldNotEditable(PermissionDenied):
    def __init__(self, *, entity_code: str, fields: list[str]) -> None:
        self.entity_code, self.fields = entity_code, fields
        labels = dict(entity_fields(entity_code))
        super().__init__(_("Your role may not change: %(fields)s.")
                         % {"fields": ", ".join(str(labels.get(name, name)) for name in fields)})


def _field(spec: Entity, lookup: str) -> str:
    return f"{spec.owner_field}__{lookup}" if spec.owner_field else lookup


def _department_path(member: Membership) -> str | None:
    return member.department.path if member.department_id else None


def scope_q(member: Principal | None, entity_code: str, action: str) -> Q | None:
    """A filter for the records the member may reach, ``Q()`` for all, None for nothing."""
    spec, scope = entity(entity_code), scope_of(member, entity_code, action)
    if scope == Scope.NONE:
        return None
    if scope == Scope.ALL:
        return Q()
    if not _owns_records(member):
        return None  # an API key owns nothing and belongs to no department
    own = Q(**{spec.owner_field: member.pk}) if spec.owner_field else Q(pk=member.pk)
    if scope == Scope.OWN or not member.department_id:
        return own  # without a department, department scopes shrink to one's own records
    if scope == Scope.DEPARTMENT:
        return own | Q(**{_field(spec, "department_id"): member.department_id})
    return own | Q(**{_field(spec, "department__path__startswith"): _department_path(member)})


def filter_queryset(member: Principal | None, entity_code: str, action: str, queryset: QuerySet) -> QuerySet:
    condition = scope_q(member, entity_code, action)
    return queryset.none() if condition is None else queryset.filter(condition)


def owner_in_scope(member: Principal, owner: Membership | None, scope: str) -> bool:
    if scope == Scope.ALL:
        return True
    if scope == Scope.NONE or owner is None or not _owns_records(member):
        return False
    if owner.pk == member.pk:
        return True
    if scope == Scope.OWN or not member.department_id or not owner.department_id:
        return False
    if scope == Scope.DEPARTMENT:
        return owner.department_id == member.department_id
    return owner.department.path.startswith(_department_path(member))


def can(member: Principal | None, entity_code: str, action: str, *, owner: Membership | None = None,
        creating: bool = False) -> bool:
    """May the member do ``action`` on a record owned by ``owner`` (or create one, with ``creating``)?"""
    scope = scope_of(member, entity_code, action)
    if creating:
        return scope != Scope.NONE
    return owner_in_scope(member, owner, scope)


def require(member: Principal | None, entity_code: str, action: str, *, owner: Membership | None = None,
            creating: bool = False) -> None:
    if not can(member, entity_code, action, owner=owner, creating=creating):
        raise NotPermitted(entity_code=entity_code, action=action)
