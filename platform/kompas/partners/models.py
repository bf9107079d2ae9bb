"""The partner pages' own data (public schema): invitations to join a partner agency.

Partners, their members and link requests are in tenants.models (they are part of who owns
which portal); only what the partner pages need for themselves lives here.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.models import Partner, PartnerMember


class PartnerInvitation(models.Model):
    """An e-mailed invitation to work for a partner; the token is stored only as its SHA-256."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("e-mail address"))
    role = models.CharField(_("role"), max_length=10, choices=PartnerMember.Role.choices,
                            default=PartnerMember.Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("partner invitation")
        verbose_name_plural = _("partner invitations")

    def __str__(self) -> str:
        return f"{self.email} → {self.partner_id}"
