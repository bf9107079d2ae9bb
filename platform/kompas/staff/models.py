"""What an impersonation needs beyond tenants.Impersonation: whom the staff member enters as, and the
one-time token's own short life. Stored in the public schema, next to the impersonation."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImpersonationGrant(models.Model):
    """The member a staff member sees the portal as, and when the entry token was used (once)."""

    impersonation = models.OneToOneField("tenants.Impersonation", on_delete=models.CASCADE, related_name="grant")
    # PROTECT: the record of whom staff entered as outlives nothing it should not.
    as_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("as member"))
    as_label = models.CharField(_("as member"), max_length=254)
    token_expires_at = models.DateTimeField(_("entry link valid until"))
    redeemed_at = models.DateTimeField(_("entered"), null=True, blank=True)
    ended_by = models.CharField(_("ended by"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("staff access")
        verbose_name_plural = _("staff access")

    def __str__(self) -> str:
        return f"{self.impersonation_id} as {self.as_user_id}"
