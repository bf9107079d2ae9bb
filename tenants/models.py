"""Portals (tenants) and the host names that route to them. Stored in the public schema."""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin


def new_schema_name() -> str:
    """An internal schema id; the portal address (slug) is separate and can change."""
    return f"t_{secrets.token_hex(6)}"


class Partner(models.Model):
    """An agency that manages portals for its clients and may pay for them (billing.PartnerBillingAccount).

    Only what billing needs now; link requests, approvals and the partner portal belong to the
    control-plane work, which manages ``Tenant.partner``.
    """

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("partner address"), max_length=63, unique=True)
    email = models.EmailField(_("contact e-mail"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("partner")
        verbose_name_plural = _("partners")

    def __str__(self) -> str:
        return self.name


class Tenant(TenantMixin):
    class Kind(models.TextChoices):
        COMPANY = "company", _("Company")
        INDIVIDUAL = "individual", _("Individual")
        PLATFORM = "platform", _("Platform (public site)")

    class Status(models.TextChoices):
        TRIAL = "trial", _("Trial")
        ACTIVE = "active", _("Active")
        PAST_DUE = "past_due", _("Payment overdue")
        SUSPENDED = "suspended", _("Suspended")
        CLOSED = "closed", _("Closed")

    slug = models.CharField(
        _("portal address"), max_length=63, unique=True, blank=True,
        help_text=_("The first label of the portal's host name, e.g. 'acme' in acme.example.com."),
    )
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.COMPANY)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.TRIAL)
    language = models.CharField(_("default language"), max_length=8, default="pl")
    currency = models.CharField(_("currency"), max_length=3, default="PLN")
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Warsaw")
    logo = models.CharField(_("logo"), max_length=300, blank=True,
                            help_text=_("Path of the logo in file storage, under the portal's own prefix."))
    # SET_NULL: a partner disappearing must never take its clients' portals with it.
    partner = models.ForeignKey(
        Partner, on_delete=models.SET_NULL, null=True, blank=True, related_name="client_portals",
        verbose_name=_("partner"), help_text=_("The agency that manages this portal for its owner."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        verbose_name = _("portal")
        verbose_name_plural = _("portals")
        constraints = [
            models.UniqueConstraint(Lower("slug"), name="tenant_slug_case_insensitive_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug or self.schema_name})"

    @property
    def is_public(self) -> bool:
        return self.schema_name == "public"


class Domain(DomainMixin):
    """A host name that routes to a portal: its subdomain or a verified custom domain."""

    class Meta:
        verbose_name = _("domain")
        verbose_name_plural = _("domains")

    def save(self, *args, **kwargs) -> None:
        self.domain = self.domain.strip().lower().rstrip(".")
        super().save(*args, **kwargs)


class PoolSchema(models.Model):
    """A pre-migrated schema waiting for a new portal, so signup never runs migrations.

    ``fingerprint`` names the migration state the schema was built at; a schema whose
    fingerprint is not the current one is migrated forward before it can be claimed.
    """

    schema_name = models.CharField(max_length=63, unique=True)
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["claimed_at", "fingerprint"])]

    def __str__(self) -> str:
        return self.schema_name


class Signup(models.Model):
    """A self-service signup waiting for its e-mail address to be confirmed (docs/decisions/0015).

    Kept in the public schema by the control plane. While it is pending (not completed, not
    expired) its portal address is reserved for the address that asked. The password is kept only
    as a hash, and only until the portal is created; the e-mailed token only as its SHA-256.
    """

    email = models.EmailField(_("e-mail address"))
    full_name = models.CharField(_("full name"), max_length=200)
    company_name = models.CharField(_("company name"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Tenant.Kind.choices, default=Tenant.Kind.COMPANY)
    slug = models.CharField(_("portal address"), max_length=63)
    language = models.CharField(_("language"), max_length=8, default="pl")
    password_hash = models.CharField(max_length=128, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    # SET_NULL: the record of how a portal was signed up for never keeps a closed portal alive.
    tenant = models.ForeignKey(Tenant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                               verbose_name=_("portal"))

    class Meta:
        verbose_name = _("signup")
        verbose_name_plural = _("signups")
        indexes = [
            models.Index(fields=["slug"], condition=models.Q(completed_at__isnull=True), name="signup_pending_slug"),
        ]

    def __str__(self) -> str:
        return f"{self.slug} ({self.email})"
