"""Default roles and the import/export of role rights as CSV (seed 000 L232–258)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from identity.members.models import Action, Role, RolePermission, Scope
from identity.members.permissions import entities

CRM_ENTITIES = ("lead", "deal", "contact", "company", "quote", "invoice", "task", "product")
A, S = Action, Scope


def _rights(read: str, create: str, edit: str, delete: str, export: str, import_: str) -> dict[str, str]:
    return {A.READ: read, A.CREATE: create, A.EDIT: edit, A.DELETE: delete, A.EXPORT: export, A.IMPORT: import_}


@dataclass(frozen=True)
class DefaultRole:
    code: str
    name: str  # stored in the portal's default language when seeded
    is_administrator: bool
    crm: dict[str, str]
    people: str = S.ALL


# Names are marked for translation; the seed stores them in the portal's language.
DEFAULT_ROLES = [
    DefaultRole("administrator", gettext_noop("Administrator"), True,
                _rights(S.ALL, S.ALL, S.ALL, S.ALL, S.ALL, S.ALL)),
    DefaultRole("crm_manager", gettext_noop("CRM Manager"), False,
                _rights(S.ALL, S.ALL, S.ALL, S.ALL, S.ALL, S.ALL)),
    DefaultRole("salesperson", gettext_noop("Salesperson"), False,
                _rights(S.DEPARTMENT, S.OWN, S.OWN, S.OWN, S.OWN, S.NONE)),
    DefaultRole("consultant", gettext_noop("Consultant"), False,
                _rights(S.ALL, S.OWN, S.OWN, S.NONE, S.NONE, S.NONE)),
    DefaultRole("guest", gettext_noop("Guest"), False,
                _rights(S.OWN, S.NONE, S.NONE, S.NONE, S.NONE, S.NONE), people=S.DEPARTMENT),
    DefaultRole("no_access", gettext_noop("No access"), False,
                _rights(S.NONE, S.NONE, S.NONE, S.NONE, S.NONE, S.NONE), people=S.NONE),
]


def seed_default_roles(*, language: str = "pl", role_model=Role, permission_model=RolePermission) -> list:
    """Create the default roles with their matrix, named in the portal's language.

    Existing roles are left as the portal changed them. The model classes can be a migration's
    historical models.
    """
    from django.utils import translation

    roles = []
    with translation.override(language):
        for default in DEFAULT_ROLES:
            role, created = role_model.objects.get_or_create(
                code=default.code,
                defaults={"name": translation.gettext(default.name), "is_administrator": default.is_administrator})
            roles.append(role)
            if not created:
                continue
            rights = [permission_model(role=role, entity=code, action=action, scope=scope)
                      for code in CRM_ENTITIES for action, scope in default.crm.items()]
            rights.append(permission_model(role=role, entity="member", action=A.READ, scope=default.people))
            permission_model.objects.bulk_create(rights)
    return roles


CSV_COLUMNS = ["role", "entity", "action", "scope"]


def export_rights_csv() -> str:
    """One row per role × entity × action, including rights that are "none", so the file is complete."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    existing = {(p.role_id, p.entity, p.action): p.scope for p in RolePermission.objects.all()}
    for role in Role.objects.order_by("name"):
        for spec in entities():
            for action in Action.values:
                scope = Scope.ALL if role.is_administrator else existing.get((role.pk, spec.code, action), Scope.NONE)
                writer.writerow([role.name, spec.code, action, scope])
    return buffer.getvalue()


def import_rights_csv(text: str) -> int:
    """Apply a rights file; all or nothing. Unknown roles are created as custom roles.

    Every problem names the line, the column and the reason; nothing is written unless the
    whole file is valid.
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if reader.fieldnames is None or [name.strip().lower() for name in reader.fieldnames] != CSV_COLUMNS:
        raise ValidationError(_("The file must start with the header line: %(header)s.")
                              % {"header": ",".join(CSV_COLUMNS)})
    known_entities = {spec.code for spec in entities()}
    rows, errors = [], []
    for line, row in enumerate(reader, start=2):
        role, code, action, scope = (str(row.get(column) or "").strip() for column in CSV_COLUMNS)
        if not role:
            errors.append(_("Line %(line)s, column role: the role name is empty.") % {"line": line})
        if code not in known_entities:
            errors.append(_("Line %(line)s, column entity: unknown entity “%(value)s”.")
                          % {"line": line, "value": code})
        if action not in Action.values:
            errors.append(_("Line %(line)s, column action: unknown action “%(value)s”; use one of %(known)s.")
                          % {"line": line, "value": action, "known": ", ".join(Action.values)})
        if scope not in Scope.values:
            errors.append(_("Line %(line)s, column scope: unknown scope “%(value)s”; use one of %(known)s.")
                          % {"line": line, "value": scope, "known": ", ".join(Scope.values)})
        rows.append((role, code, action, scope))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        roles = {role.name: role for role in Role.objects.all()}
        for role_name, code, action, scope in rows:
            if role_name not in roles:
                roles[role_name] = Role.objects.create(name=role_name)
            role = roles[role_name]
            if role.is_administrator:
                continue  # administrators keep every right; a file cannot lock them out
            RolePermission.objects.update_or_create(role=role, entity=code, action=action,
                                                    defaults={"scope": scope})
    return len(rows)
