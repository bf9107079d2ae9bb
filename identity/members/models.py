"""A person's membership in this portal. Roles and permissions hang off it (identity issue)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    """How far a permission reaches (seed 000 L232–258: none, own, department, with sub-departments, all)."""

    NONE = "none", _("none")
    OWN = "own", _("own")
    DEPARTMENT = "department", _("department")
    DEPARTMENT_TREE = "department_tree", _("department and sub-departments")
    ALL = "all", _("all")


class Action(models.TextChoices):
    READ = "read", _("read")
    CREATE = "create", _("create")
    EDIT = "edit", _("edit")
    DELETE = "delete", _("delete")
    EXPORT = "export", _("export")
    IMPORT = "import", _("import")


class Department(models.Model):
    """A unit of the company's structure; a tree with a head.

    ``path`` is the materialised chain of ids (``/1/4/9/``) so "this department and everything
    under it" is one indexed prefix match, kept by identity.members.services.
    """

    name = models.CharField(_("name"), max_length=120)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children",
                               verbose_name=_("parent department"))
    head = models.ForeignKey("Membership", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                             verbose_name=_("head"))
    path = models.CharField(max_length=500, db_index=True, editable=False, default="")
    ip_allowlist = models.TextField(_("allowed IP addresses"), blank=True)

    class Meta:
        ordering = ["path"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return self.name


class Role(models.Model):
    """A named set of rights. The default roles carry a code; custom roles have none."""

    code = models.SlugField(max_length=40, unique=True, null=True, blank=True)
    name = models.CharField(_("name"), max_length=80, unique=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    is_administrator = models.BooleanField(_("full administrator"), default=False,
                                           help_text=_("Administrators may do everything, including settings."))

    class Meta:
        ordering = ["name"]
        verbose_name = _("role")
        verbose_name_plural = _("roles")

    def __str__(self) -> str:
        return self.name


class RolePermission(models.Model):
    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="permissions")
    entity = models.CharField(_("entity"), max_length=40)
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    scope = models.CharField(_("scope"), max_length=20, choices=Scope.choices, default=Scope.NONE)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["role", "entity", "action"], name="one_scope_per_role_right")]
        verbose_name = _("right")
        verbose_name_plural = _("rights")

    def __str__(self) -> str:
        return f"{self.role_id}:{self.entity}.{self.action}={self.scope}"


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
    role = models.ForeignKey(Role, on_delete=models.PROTECT, null=True, blank=True, related_name="members",
                             verbose_name=_("role"))
    department = models.ForeignKey(Department, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="members", verbose_name=_("department"))
    ip_allowlist = models.TextField(_("allowed IP addresses"), blank=True)
    # Access granted to a member of the portal's partner agency (kompas.partners): it takes no
    # seat, and the portal's administrators can revoke every such membership at once.
    is_partner_access = models.BooleanField(_("partner access"), default=False)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")

    def __str__(self) -> str:
        # Shown in record histories and owner columns: the person's name (or e-mail).
        return self.user.full_name or self.user.email

    @property
    def has_admin_rights(self) -> bool:
        """Portal settings (billing, roles, members) are for administrators: the flag or the role."""
        return self.is_active and (self.is_admin or bool(self.role_id and self.role.is_administrator))


class ApiKey(models.Model):
    """A portal's API key: bound to a role, stored hashed, shown once, revocable.

    The token is ``kp_<prefix>_<secret>``; the prefix finds the row, the hash of the whole
    token proves it (identity.members.tokens).
    """

    name = models.CharField(_("name"), max_length=80)
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="api_keys", verbose_name=_("role"))
    created_by = models.ForeignKey(Membership, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} (kp_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    # The permission layer treats a key like a member with no department and no records of its
    # own (identity.members.permissions): "own" and "department" scopes reach nothing.
    department_id = None

    @property
    def has_admin_rights(self) -> bool:
        return self.is_active and self.role.is_administrator


class Invitation(models.Model):
    """An e-mail invitation to join this portal. A pending invitation holds a seat, so the seat
    limit stays exact: inviting is refused when the plan is full, not accepting."""

    email = models.EmailField(_("e-mail address"))
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="+", verbose_name=_("role"))
    department = models.ForeignKey(Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                   verbose_name=_("department"))
    invited_by = models.ForeignKey(Membership, on_delete=models.SET_NULL, null=True, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Sent by a partner that created the portal for its client: accepting makes the person the owner.
    as_owner = models.BooleanField(_("becomes the owner"), default=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self) -> str:
        return self.email


class SecurityPolicy(models.Model):
    """The portal's login rules; one row per portal (``SecurityPolicy.current()``)."""

    require_two_factor = models.BooleanField(_("require two-factor authentication"), default=False)
    two_factor_deadline = models.DateTimeField(
        _("two-factor deadline"), null=True, blank=True,
        help_text=_("Until then members without two-factor authentication are reminded; "
                    "afterwards they must set it up."))
    lockout_threshold = models.PositiveSmallIntegerField(_("failed logins before a lock"), default=5)
    lockout_minutes = models.PositiveSmallIntegerField(_("lock duration (minutes)"), default=15)
    session_hours = models.PositiveSmallIntegerField(_("session time limit (hours)"), default=24 * 14)
    ip_allowlist = models.TextField(_("allowed IP addresses"), blank=True,
                                    help_text=_("One address or network per line, e.g. 203.0.113.0/24. Empty: any."))

    class Meta:
        verbose_name = _("security policy")

    def __str__(self) -> str:
        return "security policy"

    @classmethod
    def current(cls) -> SecurityPolicy:
        policy, _created = cls.objects.get_or_create(pk=1)
        return policy


class LoginEvent(models.Model):
    """Every sign-in attempt on this portal: the login history, and the count behind lockouts."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("signed in")
        BAD_CREDENTIALS = "bad_credentials", _("wrong e-mail or password")
        BAD_CODE = "bad_code", _("wrong two-factor code")
        LOCKED = "locked", _("refused: locked")
        UNLOCKED = "unlocked", _("unlocked by an administrator")
        IP_REFUSED = "ip_refused", _("refused: IP address not allowed")

    email = models.EmailField(_("e-mail address"), db_index=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("device"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("login event")
        verbose_name_plural = _("login history")

    def __str__(self) -> str:
        return f"{self.email} {self.outcome}"


class MemberSession(models.Model):
    """A signed-in browser of a member in this portal, so sessions can be listed and ended."""

    session_key = models.CharField(max_length=40, unique=True)
    user_id = models.BigIntegerField(db_index=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("device"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("signed in"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.session_key[:6]}…"


class JoinRequest(models.Model):
    """Someone asks to join this portal; the address is confirmed by e-mail before admins see it."""

    class Status(models.TextChoices):
        UNCONFIRMED = "unconfirmed", _("waiting for e-mail confirmation")
        PENDING = "pending", _("waiting for a decision")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")

    email = models.EmailField(_("e-mail address"))
    full_name = models.CharField(_("name"), max_length=200)
    message = models.CharField(_("message"), max_length=500, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.UNCONFIRMED)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(Membership, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("join request")
        verbose_name_plural = _("join requests")

    def __str__(self) -> str:
        return f"{self.email} ({self.status})"


class FieldAccess(models.TextChoices):
    READ = "read", _("read only")
    HIDDEN = "hidden", _("hidden")


class FieldRule(models.Model):
    """A role's access to one field of an entity, narrower than its rights on the record
    (identity issue: field-level visibility and edit rights). No rule means the field follows the
    record: visible when the record is, editable when the record is."""

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="field_rules")
    entity = models.CharField(_("entity"), max_length=40)
    field = models.CharField(_("field"), max_length=80)
    access = models.CharField(_("access"), max_length=10, choices=FieldAccess.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["role", "entity", "field"], name="one_rule_per_role_field")]
        verbose_name = _("field rule")
        verbose_name_plural = _("field rules")

    def __str__(self) -> str:
        return f"{self.role_id}:{self.entity}.{self.field}={self.access}"
