"""Plans, prices and subscriptions; stored in the public schema (the control plane's data)."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from tenants.models import Partner, Tenant


class Resource(models.TextChoices):
    """Everything a plan limits. Counted by the layer that owns it (see billing.limits)."""

    SEATS = "seats", _("users")
    STORAGE_MB = "storage_mb", _("storage")
    MAILBOXES = "mailboxes", _("mailboxes")
    INBOX_CHANNELS = "inbox_channels", _("inbox channels")
    PIPELINES = "pipelines", _("pipelines")
    CUSTOM_FIELDS = "custom_fields", _("custom fields")
    AUTOMATION_RULES = "automation_rules", _("automation rules")


class Feature(models.TextChoices):
    CUSTOM_DOMAIN = "custom_domain", _("custom domain")
    API_ACCESS = "api_access", _("API access")
    OWN_PHONE_NUMBER = "own_phone_number", _("own phone number")


class Plan(models.Model):
    """A plan as data: staff change prices and limits without a deploy.

    ``limits`` maps each Resource to a whole number; a missing key or ``None`` means unlimited.
    ``features`` maps each Feature to true/false. With ``per_seat`` the seat limit is the
    number of seats bought on the subscription instead of the plan's fixed number.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_pl = models.CharField(_("name (Polish)"), max_length=80)
    name_en = models.CharField(_("name (English)"), max_length=80)
    description_pl = models.TextField(_("description (Polish)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    per_seat = models.BooleanField(_("priced per seat"), default=False)
    limits = models.JSONField(_("limits"), default=dict, blank=True)
    features = models.JSONField(_("features"), default=dict, blank=True)
    rank = models.PositiveSmallIntegerField(
        _("rank"), default=0, help_text=_("Higher is a bigger plan; used to tell upgrades from downgrades."))
    is_public = models.BooleanField(_("offered at signup"), default=True)
    is_free = models.BooleanField(_("free"), default=False)
    stripe_product_id = models.CharField(_("Stripe product"), max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["rank"]
        verbose_name = _("plan")
        verbose_name_plural = _("plans")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_pl if translation.get_language() == "pl" else self.name_en

    def limit(self, resource: str, *, seats_bought: int | None = None) -> int | None:
        if resource == Resource.SEATS and self.per_seat:
            return seats_bought
        value = self.limits.get(resource)
        return None if value is None else int(value)

    def has_feature(self, feature: str) -> bool:
        return bool(self.features.get(feature, False))


class PlanPrice(models.Model):
    class Interval(models.TextChoices):
        MONTH = "month", _("monthly")
        YEAR = "year", _("yearly")

    class Currency(models.TextChoices):
        PLN = "PLN", "PLN"
        EUR = "EUR", "EUR"

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="prices")
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    interval = models.CharField(_("billing interval"), max_length=5, choices=Interval.choices)
    amount = models.DecimalField(_("net price"), max_digits=10, decimal_places=2,
                                 help_text=_("Per month or year; per seat for per-seat plans."))
    stripe_price_id = models.CharField(_("Stripe price"), max_length=64, blank=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["plan", "currency", "interval"], name="one_price_per_plan_term")]
        verbose_name = _("price")
        verbose_name_plural = _("prices")

    def __str__(self) -> str:
        return f"{self.plan.code} {self.amount} {self.currency}/{self.interval}"

    @property
    def amount_minor_units(self) -> int:
        return int((self.amount * 100).quantize(Decimal("1")))


class Subscription(models.Model):
    """What a portal pays for. Mirrors Stripe's subscription; Stripe is the source of truth."""

    class Status(models.TextChoices):
        TRIALING = "trialing", _("trial")
        ACTIVE = "active", _("active")
        PAST_DUE = "past_due", _("payment overdue")
        UNPAID = "unpaid", _("unpaid")
        CANCELED = "canceled", _("cancelled")
        INCOMPLETE = "incomplete", _("awaiting first payment")
        FREE = "free", _("free plan")

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.TRIALING)
    seats = models.PositiveIntegerField(_("seats bought"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="PLN")
    interval = models.CharField(_("billing interval"), max_length=5, default=PlanPrice.Interval.MONTH)
    trial_ends_at = models.DateTimeField(_("trial ends"), null=True, blank=True)
    current_period_end = models.DateTimeField(_("current period ends"), null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    scheduled_plan = models.ForeignKey(Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                       verbose_name=_("plan from the next period"))
    scheduled_seats = models.PositiveIntegerField(null=True, blank=True)
    past_due_since = models.DateTimeField(null=True, blank=True)
    stripe_customer_id = models.CharField(max_length=64, blank=True, db_index=True)
    # The portal's own Stripe subscription; a partner-paid portal's is its partner's (see below).
    stripe_subscription_id = models.CharField(max_length=64, blank=True, db_index=True)
    # Set while a partner pays for this portal: plan, seats, status and period then mirror this
    # portal's item on the partner's one Stripe subscription (billing.stripe_sync).
    partner_account = models.ForeignKey("PartnerBillingAccount", on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="client_subscriptions", verbose_name=_("paid by partner"))
    stripe_subscription_item_id = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")

    def __str__(self) -> str:
        return f"{self.tenant_id}: {self.plan.code} ({self.status})"

    @property
    def is_partner_paid(self) -> bool:
        return self.partner_account_id is not None


class PartnerBillingAccount(models.Model):
    """A partner's one Stripe subscription, paying for several client portals (docs/decisions/0007).

    Every client portal is one item of that subscription; the subscription's status is shared
    by all of them. Mirrors Stripe like ``Subscription`` does; Stripe is the source of truth.
    """

    partner = models.OneToOneField(Partner, on_delete=models.PROTECT, related_name="billing_account")
    status = models.CharField(_("status"), max_length=20, choices=Subscription.Status.choices,
                              default=Subscription.Status.INCOMPLETE)
    currency = models.CharField(_("currency"), max_length=3, default="PLN")
    interval = models.CharField(_("billing interval"), max_length=5, default=PlanPrice.Interval.MONTH)
    current_period_end = models.DateTimeField(_("current period ends"), null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    past_due_since = models.DateTimeField(null=True, blank=True)
    stripe_customer_id = models.CharField(max_length=64, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("partner billing account")
        verbose_name_plural = _("partner billing accounts")

    def __str__(self) -> str:
        return f"{self.partner_id}: {self.stripe_subscription_id or '-'} ({self.status})"

    @property
    def has_live_subscription(self) -> bool:
        """A Stripe subscription that clients can be added to (an ended one needs a new Checkout)."""
        return bool(self.stripe_subscription_id) and self.status != Subscription.Status.CANCELED


class BillingDetails(models.Model):
    """Who the invoices are made out to."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="billing_details")
    company_name = models.CharField(_("company name"), max_length=200)
    nip = models.CharField(_("NIP"), max_length=10, blank=True)
    vat_id = models.CharField(_("EU VAT ID"), max_length=16, blank=True)
    street = models.CharField(_("street and number"), max_length=200)
    postal_code = models.CharField(_("postal code"), max_length=12)
    city = models.CharField(_("city"), max_length=100)
    country = models.CharField(_("country"), max_length=2, default="PL")
    email = models.EmailField(_("invoice e-mail"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("billing details")
        verbose_name_plural = _("billing details")

    def __str__(self) -> str:
        return self.company_name


class StripeEvent(models.Model):
    """Every webhook event, stored by its Stripe id before it is processed: a duplicate is a no-op."""

    id = models.CharField(primary_key=True, max_length=255)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["processed_at"])]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"


class Invoice(models.Model):
    """An invoice Stripe issued for a portal (or for a partner paying for portals), kept to be listed."""

    stripe_invoice_id = models.CharField(max_length=64, unique=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invoices", null=True, blank=True)
    partner_account = models.ForeignKey(PartnerBillingAccount, on_delete=models.CASCADE, related_name="invoices",
                                        null=True, blank=True)
    number = models.CharField(_("number"), max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=20)
    currency = models.CharField(_("currency"), max_length=3)
    amount_due = models.PositiveIntegerField(_("amount due (minor units)"))
    amount_paid = models.PositiveIntegerField(_("amount paid (minor units)"), default=0)
    hosted_invoice_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(_("issued"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        constraints = [models.CheckConstraint(
            condition=models.Q(tenant__isnull=False, partner_account__isnull=True)
            | models.Q(tenant__isnull=True, partner_account__isnull=False),
            name="invoice_has_one_payer")]

    def __str__(self) -> str:
        return self.number or self.stripe_invoice_id


class BillingDrift(models.Model):
    """A difference between a local subscription and Stripe, found by the nightly reconciliation."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    found_at = models.DateTimeField(auto_now_add=True)
    field = models.CharField(max_length=40)
    local_value = models.CharField(max_length=200, blank=True)
    stripe_value = models.CharField(max_length=200, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-found_at"]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.field}: {self.local_value} ≠ {self.stripe_value}"
