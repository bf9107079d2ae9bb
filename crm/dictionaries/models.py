"""A portal's own lists of values (seed 004): acquisition sources with their categories, contact
types (how the customer is reached) and industries. Records point at them; deleting one that is
in use moves its records to a replacement first (crm.dictionaries.services)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ChoiceKind(models.TextChoices):
    SOURCE = "source", _("acquisition source")
    SOURCE_CATEGORY = "source_category", _("acquisition source category")
    CONTACT_TYPE = "contact_type", _("contact type")
    INDUSTRY = "industry", _("industry")


class Choice(models.Model):
    kind = models.CharField(_("list"), max_length=20, choices=ChoiceKind.choices)
    name = models.CharField(_("name"), max_length=120)
    category = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="sources",
                                 limit_choices_to={"kind": ChoiceKind.SOURCE_CATEGORY},
                                 verbose_name=_("source category"))
    position = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["kind", "position", "name"]
        constraints = [models.UniqueConstraint(models.functions.Lower("name"), "kind", name="choice_name_unique")]
        verbose_name = _("list value")
        verbose_name_plural = _("list values")

    def __str__(self) -> str:
        return self.name
