"""A portal's lists of values (seed 004): create, rename, reorder, delete with a replacement."""

from __future__ import annotations

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.dictionaries.models import Choice, ChoiceKind


def check_choice(value, kind: str) -> Choice:
    """The value of a record field pointing at a list: it must exist, be active and be of that list."""
    choice_id = getattr(value, "pk", value)
    choice = Choice.objects.filter(pk=choice_id, kind=kind).first() if str(choice_id).isdigit() else None
    if choice is None:
        raise ValidationError(_("Choose a value from the list “%(list)s”.") % {"list": ChoiceKind(kind).label})
    return choice


def _check_name(*, kind: str, name: str, exclude_pk=None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": [_("Give a name.")]})
    clash = Choice.objects.annotate(lower=Lower("name")).filter(kind=kind, lower=name.lower())
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"name": [_("“%(name)s” is already on this list.") % {"name": name}]})
    return name


def _check_category(kind: str, category):
    if kind != ChoiceKind.SOURCE or category in (None, ""):
        return None
    return check_choice(category, ChoiceKind.SOURCE_CATEGORY)


@transaction.atomic
def create_choice(*, kind: str, name: str, category=None, position: int | None = None) -> Choice:
    if kind not in ChoiceKind.values:
        raise ValidationError({"kind": [_("Unknown list.")]})
    name = _check_name(kind=kind, name=name)
    if position is None:
        position = (Choice.objects.filter(kind=kind).aggregate(models.Max("position"))["position__max"] or 0) + 1
    return Choice.objects.create(kind=kind, name=name, category=_check_category(kind, category), position=position)


@transaction.atomic
def update_choice(*, choice: Choice, name: str | None = None, category=..., is_active: bool | None = None,
                  position: int | None = None) -> Choice:
    if name is not None:
        choice.name = _check_name(kind=choice.kind, name=name, exclude_pk=choice.pk)
    if category is not ...:
        choice.category = _check_category(choice.kind, category)
    if is_active is not None:
        choice.is_active = is_active
    if position is not None:
        choice.position = position
    choice.save()
    return choice


def _references(choice: Choice) -> list[tuple[type[models.Model], str]]:
    """Every foreign key in the CRM that may point at a value of this list."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is Choice:
                found.append((model, field.name))
    return found


def usage_of(choice: Choice) -> int:
    total = sum(model._base_manager.filter(**{name: choice}).count() for model, name in _references(choice))
    return total + choice.sources.count()


@transaction.atomic
def delete_choice(*, choice: Choice, replacement: Choice | None = None, actor=None) -> int:
    """Delete a value; records using it move to ``replacement`` (required when it is in use, so no
    record is left pointing at nothing). Returns how many records were moved."""
    in_use = usage_of(choice)
    if in_use and replacement is None:
        raise ValidationError({"replacement": [
            _("“%(name)s” is used by %(count)d records; choose a value to put in its place.")
            % {"name": choice.name, "count": in_use}]})
    if replacement is not None and (replacement.kind != choice.kind or replacement.pk == choice.pk):
        raise ValidationError({"replacement": [_("Choose another value of the same list.")]})
    moved = 0
    for model, name in _references(choice):
        rows = model._base_manager.filter(**{name: choice})
        _record_replacement(model, name, list(rows.values_list("pk", flat=True)), choice, replacement, actor)
        moved += rows.update(**{name: replacement})
    moved += choice.sources.update(category=replacement)
    choice.delete()
    return moved


def _record_replacement(model, name: str, pks: list[int], old: Choice, new: Choice | None, actor) -> None:
    """The records' histories say their value was replaced (DESIGN: every change is in the history)."""
    from crm.core.history import record_changes
    from crm.core.registry import record_type_of

    try:
        code = record_type_of(model())
    except LookupError:
        return
    for pk in pks:
        record_changes(actor=actor, entity=code.code, record=model(pk=pk), before={name: old.name},
                       after={name: new.name if new else ""})


@transaction.atomic
def reorder_choices(*, kind: str, ids: list[int]) -> None:
    for position, pk in enumerate(ids):
        Choice.objects.filter(kind=kind, pk=pk).update(position=position)


DEFAULT_CATEGORIES = {
    gettext_lazy("Internet marketing"): [gettext_lazy("Website"), gettext_lazy("Search engine"),
                                         gettext_lazy("Social media"), gettext_lazy("Newsletter")],
    gettext_lazy("Offline advertising"): [gettext_lazy("Trade fair"), gettext_lazy("Press"),
                                          gettext_lazy("Leaflets")],
    gettext_lazy("Referrals"): [gettext_lazy("Customer referral"), gettext_lazy("Partner")],
}
DEFAULT_CONTACT_TYPES = [gettext_lazy("Phone"), gettext_lazy("E-mail"), gettext_lazy("Meeting"),
                         gettext_lazy("Chat")]


@transaction.atomic
def seed_defaults() -> None:
    """A new portal's starting lists (seed 004's examples), named in the active language; the
    portal's administrators change them in Settings."""
    if Choice.objects.exists():
        return
    # Known-good values on the signup path: three inserts instead of a checked write per value.
    categories = Choice.objects.bulk_create([
        Choice(kind=ChoiceKind.SOURCE_CATEGORY, name=str(name), position=position)
        for position, name in enumerate(DEFAULT_CATEGORIES)])
    Choice.objects.bulk_create([
        Choice(kind=ChoiceKind.SOURCE, name=str(source), category=category, position=position)
        for position, (category, source) in enumerate(
            (category, source) for category, sources in zip(categories, DEFAULT_CATEGORIES.values(), strict=True)
            for source in sources)])
    Choice.objects.bulk_create([Choice(kind=ChoiceKind.CONTACT_TYPE, name=str(name), position=position)
                                for position, name in enumerate(DEFAULT_CONTACT_TYPES)])
