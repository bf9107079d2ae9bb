"""Saved list views: a name, filters (the filter language of crm.core.filters), columns and a sort.

Everyone who may read a record type may save views of it and share their own with the whole
portal. A view is changed or deleted only by the person who saved it or by an administrator.
Filters are stored as written ("me" stays "me") and compiled for whoever opens the view.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Max, Q
from django.http import Http404
from django.utils.translation import gettext as _

from crm.core import filters as filter_language
from crm.core.models import SavedView
from crm.core.registry import record_type
from identity.members import permissions
from identity.members.models import Membership

MAX_COLUMNS = 50
_NAME_LENGTH = SavedView._meta.get_field("name").max_length
_CHANGEABLE = ("name", "filters", "columns", "ordering", "is_shared", "position")


class NotYourView(PermissionDenied):
    """Someone tried to change or delete a view that is not theirs."""

    def __init__(self) -> None:
        super().__init__(_("Only the person who saved this view or an administrator may change or delete it."))


# -- checks -------------------------------------------------------------------------------------


def _entity(entity) -> str:
    try:
        record_type(entity)
    except (LookupError, TypeError):
        raise ValidationError({"entity": [_("There is no record type “%(entity)s”.") % {"entity": entity}]}) from None
    return entity


def _may_read(actor, entity: str) -> None:
    if not isinstance(actor, Membership):
        raise PermissionDenied(_("Views are saved by people of the portal, not by API keys."))
    if permissions.scope_q(actor, entity, "read") is None:
        raise permissions.NotPermitted(entity_code=entity, action="read")


def _may_change(actor, view: SavedView) -> None:
    if not isinstance(actor, Membership) or not actor.is_active:
        raise NotYourView()
    if view.owner_id != actor.pk and not actor.has_admin_rights:
        raise NotYourView()


def _clean_name(name) -> str:
    name = " ".join(str(name or "").split())
    if not name:
        raise ValidationError({"name": [_("Give the view a name.")]})
    if len(name) > _NAME_LENGTH:
        raise ValidationError({"name": [_("The name may be at most %(count)d characters long.")
                                        % {"count": _NAME_LENGTH}]})
    return name


def _clean_filters(entity: str, tree, actor) -> dict:
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise ValidationError({"filters": [_("Filters are given as an object, e.g. {\"and\": […]}.")]})
    try:
        filter_language.compile_filter(entity, tree, actor=actor)
    except filter_language.FilterError as error:
        raise ValidationError({"filters": error.messages}) from None
    return tree


def _clean_columns(entity: str, columns) -> list[str]:
    if columns is None:
        return []
    if not isinstance(columns, list | tuple) or not all(isinstance(column, str) for column in columns):
        raise ValidationError({"columns": [_("Columns are given as a list of field names.")]})
    if len(columns) > MAX_COLUMNS:
        raise ValidationError({"columns": [_("A view may show at most %(count)d columns.") % {"count": MAX_COLUMNS}]})
    errors = []
    for column in columns:
        try:
            filter_language.field_info(entity, column)
        except filter_language.FilterError:
            errors.append(_("There is no column “%(field)s”.") % {"field": column})
    if errors:
        raise ValidationError({"columns": errors})
    return list(dict.fromkeys(columns))


def _clean_ordering(entity: str, ordering) -> list[str]:
    if ordering is None:
        return []
    if not isinstance(ordering, list | tuple) or not all(isinstance(key, str) for key in ordering):
        raise ValidationError({"ordering": [_("The sort order is given as a list of field names.")]})
    if ordering:
        try:
            filter_language.compile_ordering(entity, list(ordering))
        except filter_language.FilterError as error:
            raise ValidationError({"ordering": error.messages}) from None
    return list(ordering)


def _clean_position(position) -> int:
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        raise ValidationError({"position": [_("The position is a whole number, 0 or more.")]})
    return position


# -- services -----------------------------------------------------------------------------------


def create_saved_view(*, actor, entity: str, name: str, filters: dict | None = None, columns=None,
                      ordering=None, is_shared: bool = False) -> SavedView:
    """Save a view of ``entity`` for the actor, after the views they already have."""
    entity = _entity(entity)
    _may_read(actor, entity)
    view = SavedView(entity=entity, owner=actor, name=_clean_name(name),
                     filters=_clean_filters(entity, filters, actor), columns=_clean_columns(entity, columns),
                     ordering=_clean_ordering(entity, ordering), is_shared=bool(is_shared))
    with transaction.atomic():
        last = SavedView.objects.filter(entity=entity, owner=actor).aggregate(last=Max("position"))["last"]
        view.position = 0 if last is None else last + 1
        view.save()
    return view


def update_saved_view(*, actor, view: SavedView, **changes) -> SavedView:
    """Change any of name, filters, columns, ordering, is_shared, position; owner or administrator only."""
    unknown = set(changes) - set(_CHANGEABLE)
    if unknown:
        raise ValidationError({key: [_("This cannot be changed.")] for key in sorted(unknown)})
    _may_change(actor, view)
    cleaners = {
        "name": _clean_name,
        "filters": lambda tree: _clean_filters(view.entity, tree, actor),
        "columns": lambda columns: _clean_columns(view.entity, columns),
        "ordering": lambda ordering: _clean_ordering(view.entity, ordering),
        "is_shared": bool,
        "position": _clean_position,
    }
    cleaned = {key: cleaners[key](value) for key, value in changes.items()}
    for key, value in cleaned.items():
        setattr(view, key, value)
    if cleaned:
        view.save(update_fields=list(cleaned))
    return view


def delete_saved_view(*, actor, view: SavedView) -> None:
    _may_change(actor, view)
    view.delete()


# -- selectors ----------------------------------------------------------------------------------


def views_visible_to(actor, entity: str) -> models.QuerySet:
    """The actor's own views of ``entity`` and those others shared, own first."""
    entity = _entity(entity)
    if permissions.scope_q(actor, entity, "read") is None:
        return SavedView.objects.none()
    mine = Q(owner=actor) if isinstance(actor, Membership) else Q(pk__in=[])
    return (SavedView.objects.filter(entity=entity).filter(mine | Q(is_shared=True))
            .select_related("owner__user")
            .annotate(is_mine=models.Case(models.When(mine, then=True), default=False,
                                          output_field=models.BooleanField()))
            .order_by("-is_mine", "position", "name", "id"))


def visible_view(actor, pk) -> SavedView:
    """One view the actor may open, or 404 (no hint whether someone else's private view exists)."""
    view = SavedView.objects.filter(pk=pk).first() if str(pk).isdigit() else None
    if view is None or not (view.is_shared or (isinstance(actor, Membership) and view.owner_id == actor.pk)) \
            or permissions.scope_q(actor, view.entity, "read") is None:
        raise Http404(_("No such view, or you may not see it."))
    return view


def apply_view(view: SavedView, queryset: models.QuerySet, *, actor) -> models.QuerySet:
    """The queryset narrowed by the view's filters ("me" is the actor) and sorted by its order."""
    queryset = queryset.filter(filter_language.compile_filter(view.entity, view.filters or None, actor=actor))
    return queryset.order_by(*filter_language.compile_ordering(view.entity, view.ordering))
