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
        # "closed" is the cancelled state (the stored value predates the lifecycle work).
        CLOSED = "closed", _("Cancelled")
        DELETION_SCHEDULED = "deletion_scheduled", _("Deletion scheduled")

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
    # Per-portal modules a tenant admin may switch off (tenants.modules lists them); absent = on.
    modules = models.JSONField(_("modules"), default=dict, blank=True)
    status_reason = models.CharField(_("reason for the status"), max_length=300, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    deletion_due_at = models.DateTimeField(_("deletion due"), null=True, blank=True)
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
    """A host name that routes to a portal: its subdomain or a verified custom domain.

    A custom domain is stored from the moment a tenant admin adds it, but routes (and gets a
    TLS certificate) only once ``verified_at`` is set by the DNS check.
    """

    is_custom = models.BooleanField(_("custom domain"), default=False)
    verification_token = models.CharField(_("verification token"), max_length=64, blank=True)
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    last_checked_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    last_check_error = models.CharField(_("last check result"), max_length=300, blank=True)
    added_at = models.DateTimeField(_("added"), null=True, blank=True, auto_now_add=True)

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


class TemplateSchema(models.Model):
    """A migrated, empty portal schema that new schemas are cloned from when the pool is empty.

    ``fingerprint`` is empty while the job builds it; a template at another fingerprint than the
    current one is never cloned (the job builds a new one and drops the old). ``signature`` is a
    hash of its catalogue (columns, constraints, indexes, sequences) that every clone must match.
    """

    schema_name = models.CharField(max_length=63, unique=True)
    fingerprint = models.CharField(max_length=64, blank=True)
    signature = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

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
    # Set (committed) when the person asks for the portal, before it is created: a signup with
    # this set and no completed_at failed or crashed halfway; the reconciliation job retries it.
    creation_started_at = models.DateTimeField(_("creation started"), null=True, blank=True)
    creation_attempts = models.PositiveSmallIntegerField(_("creation attempts"), default=0)
    creation_error = models.CharField(_("last creation error"), max_length=300, blank=True)
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


class PlatformSettings(models.Model):
    """Platform-wide settings staff can change (a single row, pk=1)."""

    deletion_grace_days = models.PositiveSmallIntegerField(
        _("days between cancellation and deletion"), default=30,
        help_text=_("A cancelled portal is deleted after this many days unless it is reactivated."))
    impersonation_minutes = models.PositiveSmallIntegerField(
        _("longest impersonation, minutes"), default=30)

    class Meta:
        verbose_name = _("platform settings")
        verbose_name_plural = _("platform settings")

    def __str__(self) -> str:
        return "platform settings"

    @classmethod
    def load(cls) -> PlatformSettings:
        settings_row, _created = cls.objects.get_or_create(pk=1)
        return settings_row


class AuditEvent(models.Model):
    """The platform audit log: every lifecycle transition and every staff or partner action.

    Kept when the portal is deleted: the FK goes NULL, ``tenant_label`` keeps who it was.
    """

    class ActorKind(models.TextChoices):
        STAFF = "staff", _("Platform staff")
        SYSTEM = "system", _("System")
        TENANT = "tenant", _("Portal member")
        PARTNER = "partner", _("Partner")

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", verbose_name=_("who"))
    actor_kind = models.CharField(_("actor kind"), max_length=10, choices=ActorKind.choices)
    actor_label = models.CharField(_("who"), max_length=254, blank=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="audit_events", verbose_name=_("portal"))
    tenant_label = models.CharField(_("portal"), max_length=300, blank=True)
    partner = models.ForeignKey(Partner, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="audit_events", verbose_name=_("partner"))
    action = models.CharField(_("action"), max_length=64, db_index=True)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [models.Index(fields=["tenant", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.tenant_label}"


class PartnerMember(models.Model):
    """A person working for a partner agency; admins manage the partner's members and clients."""

    class Role(models.TextChoices):
        ADMIN = "admin", _("Partner administrator")
        MEMBER = "member", _("Partner member")

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="partner_memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.MEMBER)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        verbose_name = _("partner member")
        verbose_name_plural = _("partner members")
        constraints = [models.UniqueConstraint(fields=["partner", "user"], name="one_partner_membership")]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.partner_id}"


class PartnerLinkRequest(models.Model):
    """A partner asking to manage an existing portal; that portal's administrator decides."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for the portal's answer")
        APPROVED = "approved", _("Approved")
        DECLINED = "declined", _("Declined")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="link_requests")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="partner_link_requests")
    requested_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, related_name="+")
    message = models.CharField(_("message"), max_length=500, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.PENDING)
    decided_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(_("asked"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        verbose_name = _("partner link request")
        verbose_name_plural = _("partner link requests")
        constraints = [models.UniqueConstraint(fields=["partner", "tenant"], condition=models.Q(state="pending"),
                                               name="one_pending_link_request")]

    def __str__(self) -> str:
        return f"{self.partner_id} → {self.tenant_id} ({self.state})"


class Impersonation(models.Model):
    """A staff member inside a portal: needs a reason, ends by itself, shown to the portal's admins."""

    staff_user = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="impersonations")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="impersonations")
    reason = models.CharField(_("reason"), max_length=500)
    token_hash = models.CharField(max_length=64, unique=True)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    expires_at = models.DateTimeField(_("ends"))
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("impersonation")
        verbose_name_plural = _("impersonations")

    def __str__(self) -> str:
        return f"{self.staff_user_id} in {self.tenant_id} from {self.started_at:%Y-%m-%d %H:%M}"
