"""A person's membership in this portal. Roles and permissions hang off it (identity issue)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Membership(models.Model):
    # The account lives in the public schema; a portal table may point there (DESIGN.md,
    # Tenancy rules: such tables could become Citus reference tables). DO_NOTHING because
    # Django's deletion collector runs in one schema and cannot see the memberships of every
    # portal; the database's foreign key still refuses to delete an account that is a member
    # anywhere, so account deletion must end its memberships first.
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING,
                                related_name="+", verbose_name=_("account"))
    is_owner = models.BooleanField(_("owner"), default=False)
    is_admin = models.BooleanField(_("administrator"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    joined_at = models.DateTimeField(_("joined"), auto_now_add=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")

    def __str__(self) -> str:
        return f"member {self.user_id}"
