"""Settings → Roles and departments: the rights matrix per role, custom roles, CSV, the company tree."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from identity.members import permissions
from identity.members.decorators import portal_admin_required
from identity.members.models import Action, Department, FieldAccess, FieldRule, Membership, Role, RolePermission, Scope
from identity.members.roles import export_rights_csv, import_rights_csv
from identity.members.services import create_department, move_department


@portal_admin_required
def roles(request: HttpRequest) -> HttpResponse:
    if request.GET.get("export") == "csv":
        response = HttpResponse(export_rights_csv(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="role-rights.csv"'
        return response
    role = Role.objects.filter(pk=request.GET.get("role")).first() or Role.objects.filter(code="salesperson").first()
    rights = {(p.entity, p.action): p.scope for p in RolePermission.objects.filter(role=role)}
    matrix = [{"entity": spec, "cells": [{"action": action, "scope": Scope.ALL if role.is_administrator
                                         else rights.get((spec.code, action), Scope.NONE)}
                                        for action in Action.values]}
              for spec in permissions.entities()]
    return render(request, "members/roles.html", {
        "field_tables": _field_tables(role), "field_access": FieldAccess.choices,
        "roles": Role.objects.order_by("name"), "role": role, "matrix": matrix, "actions": Action.choices,
        "scopes": Scope.choices, "departments": Department.objects.select_related("parent", "head__user"),
        "members": Membership.objects.filter(is_active=True).select_related("user"),
    })


def _field_tables(role: Role) -> list[dict]:
    rules = {(rule.entity, rule.field): rule.access for rule in FieldRule.objects.filter(role=role)}
    tables = []
    for spec in permissions.entities():
        fields = [{"name": name, "label": label, "access": rules.get((spec.code, name), "")}
                  for name, label in permissions.entity_fields(spec.code)]
        if fields:
            tables.append({"code": spec.code, "label": spec.label, "fields": fields,
                           "restricted": sum(1 for field in fields if field["access"])})
    return tables


@require_POST
@portal_admin_required
def save_field_rules(request: HttpRequest, role_id: int) -> HttpResponse:
    role = get_object_or_404(Role, pk=role_id)
    known = {(spec.code, name) for spec in permissions.entities() for name, _label in
             permissions.entity_fields(spec.code)}
    wanted = {}
    for key, access in request.POST.items():
        if "|" not in key:
            continue
        entity_code, name = key.split("|", 1)
        if (entity_code, name) not in known or access not in ("", *FieldAccess.values):
            messages.error(request, _("Unknown field or access “%(key)s”; nothing was saved.") % {"key": key})
            return redirect(f"/settings/roles/?role={role.pk}#fields")
        if access:
            wanted[(entity_code, name)] = access
    with transaction.atomic():
        FieldRule.objects.filter(role=role).delete()
        FieldRule.objects.bulk_create([FieldRule(role=role, entity=entity_code, field=name, access=access)
                                       for (entity_code, name), access in wanted.items()])
    messages.success(request, _("The field access of %(role)s was saved.") % {"role": role.name})
    return redirect(f"/settings/roles/?role={role.pk}#fields")


@require_POST
@portal_admin_required
def save_rights(request: HttpRequest, role_id: int) -> HttpResponse:
    role = get_object_or_404(Role, pk=role_id)
    if role.is_administrator:
        messages.error(request, _("Administrators always have every right."))
        return redirect(f"/settings/roles/?role={role.pk}")
    for spec in permissions.entities():
        for action in Action.values:
            scope = request.POST.get(f"{spec.code}.{action}", Scope.NONE)
            if scope not in Scope.values:
                messages.error(request, _("Unknown scope “%(scope)s”; nothing was saved.") % {"scope": scope})
                return redirect(f"/settings/roles/?role={role.pk}")
    for spec in permissions.entities():
        for action in Action.values:
            RolePermission.objects.update_or_create(role=role, entity=spec.code, action=action,
                                                    defaults={"scope": request.POST.get(f"{spec.code}.{action}")})
    messages.success(request, _("The rights of %(role)s were saved.") % {"role": role.name})
    return redirect(f"/settings/roles/?role={role.pk}")


@require_POST
@portal_admin_required
def create_role(request: HttpRequest) -> HttpResponse:
    name = (request.POST.get("name") or "").strip()
    if not name or Role.objects.filter(name__iexact=name).exists():
        messages.error(request, _("Name the new role with a name no other role has."))
        return redirect("roles:list")
    role = Role.objects.create(name=name)
    messages.success(request, _("The role %(role)s was created with no rights; set them below.") % {"role": name})
    return redirect(f"/settings/roles/?role={role.pk}")


@require_POST
@portal_admin_required
def import_rights(request: HttpRequest) -> HttpResponse:
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, _("Choose a CSV file to import."))
        return redirect("roles:list")
    try:
        count = import_rights_csv(upload.read().decode("utf-8-sig"))
    except UnicodeDecodeError:
        messages.error(request, _("The file is not UTF-8 text; save it as CSV (UTF-8) and try again."))
    except ValidationError as error:
        messages.error(request, _("Nothing was imported: %(errors)s") % {"errors": " ".join(error.messages[:10])})
    else:
        messages.success(request, _("%(count)s rights were imported.") % {"count": count})
    return redirect("roles:list")


@require_POST
@portal_admin_required
def add_department(request: HttpRequest) -> HttpResponse:
    parent = Department.objects.filter(pk=request.POST.get("parent") or None).first()
    head = Membership.objects.filter(pk=request.POST.get("head") or None).first()
    try:
        create_department(name=request.POST.get("name", ""), parent=parent, head=head)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The department was added."))
    return redirect("roles:list")


@require_POST
@portal_admin_required
def move(request: HttpRequest, department_id: int) -> HttpResponse:
    department = get_object_or_404(Department, pk=department_id)
    parent = Department.objects.filter(pk=request.POST.get("parent") or None).first()
    try:
        move_department(department=department, parent=parent)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The department was moved."))
    return redirect("roles:list")
