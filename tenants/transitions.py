"""Moving a portal through its lifecycle (docs/decisions/0020-portal-lifecycle.md).

    trial → active → past_due → suspended → cancelled (CLOSED) → deletion scheduled → deleted

Billing moves trial/active/past_due/suspended through ``tenants.services.set_status``
(``apply_billing_status`` here); staff and the portal's administrators use the functions below.
Each one locks the portal's row, checks the move (a ValidationError names the reason when it is
not allowed, and then nothing is written), sets the status and ``status_reason``, writes one
audit line and, after commit, e-mails the portal's owner and administrators in the portal's
language. Repeating a move that already happened changes nothing.

Billing and identity sit above this layer, so the trial's end, extending it and the list of
administrators are asked for through tenants.signals.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import structlog
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants import audit, lifecycle_mail
from tenants.lifecycle import BILLING_SOURCE, ENDED
from tenants.models import AuditEvent, Domain, PlatformSettings, PoolSchema, Tenant
from tenants.signals import (
    portal_admins_requested,
    portal_status_changed,
    trial_end_requested,
    trial_extension_requested,
)

log = structlog.get_logger(__name__)

Status = Tenant.Status
MAX_TRIAL_EXTENSION_DAYS = 365
MAX_DELETION_DAYS = 3650
REMINDER_DAYS = 7  # the admins of a cancelled portal are reminded this long before its data goes
# The audit action (``portal.<event>``) of a move billing makes to each state.
BILLING_EVENTS = {
    Status.TRIAL: "trial_started", Status.ACTIVE: "activated", Status.PAST_DUE: "past_due",
    Status.SUSPENDED: "suspended", Status.CLOSED: "cancelled", Status.DELETION_SCHEDULED: "deletion_scheduled",
}
_LIFECYCLE_FIELDS = ("status", "status_reason", "cancelled_at", "deletion_due_at")


# --- Staff, administrators and the system ------------------------------------------------------

def suspend(tenant: Tenant, *, actor=None, reason: str) -> Tenant:
    """Read-only until resumed; the reason is shown to the portal's users and e-mailed to its admins."""
    reason = _required_reason(reason)
    with _locked(tenant) as current:
        if current.status == Status.SUSPENDED:
            return _copy_back(current, tenant)
        _refuse_if(current.status in ENDED, _("The portal is cancelled and already read-only; it cannot be "
                                              "suspended. Reactivate it first."))
        _move(current, Status.SUSPENDED, event="suspended", actor=actor, reason=reason)
    return _copy_back(current, tenant)


def resume(tenant: Tenant, *, actor=None, reason: str) -> Tenant:
    """A suspended portal is writable again: on its trial while that lasts, active otherwise."""
    with _locked(tenant) as current:
        if current.status in (Status.TRIAL, Status.ACTIVE):
            return _copy_back(current, tenant)
        _refuse_if(current.status in ENDED, _("The portal is cancelled; reactivate it instead of resuming it."))
        _refuse_if(current.status == Status.PAST_DUE, _(
            "The portal is not suspended: it is waiting for a payment and becomes active when the payment "
            "succeeds."))
        _move(current, _writable_status(current), event="resumed", actor=actor, reason=reason)
    return _copy_back(current, tenant)


def extend_trial(tenant: Tenant, *, days: int, actor=None, reason: str) -> Tenant:
    """Move the end of the trial ``days`` later (billing's subscription); a portal that had moved on
    from its trial (free plan) starts a new one."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_TRIAL_EXTENSION_DAYS:
        raise ValidationError({"days": _("Days: enter a whole number from 1 to %(max)s.")
                               % {"max": MAX_TRIAL_EXTENSION_DAYS}})
    current = Tenant.objects.get(pk=tenant.pk)
    _refuse_if(current.status in ENDED, _("The portal is cancelled; reactivate it before extending its trial."))
    _refuse_if(current.is_public, _("The public site has no lifecycle."))
    with transaction.atomic():
        # Billing locks the subscription first, as its own jobs do before they move the portal.
        trial_ends_at = _ask_to_extend_trial(current, days)
        with _locked(tenant) as current:
            _refuse_if(current.status in ENDED, _("The portal is cancelled; reactivate it before extending its "
                                                  "trial."))
            status = Status.TRIAL if current.status in (Status.TRIAL, Status.ACTIVE) else current.status
            _move(current, status, event="trial_extended", actor=actor, reason=reason, days=days,
                  trial_ends_at=trial_ends_at.isoformat())
    return _copy_back(current, tenant)


def cancel(tenant: Tenant, *, actor=None, reason: str) -> Tenant:
    """Cancelled: read-only at once, deleted after the platform's grace period unless reactivated."""
    with _locked(tenant) as current:
        if current.status in ENDED:
            return _copy_back(current, tenant)
        now = timezone.now()
        current.cancelled_at = now
        current.deletion_due_at = now + timedelta(days=PlatformSettings.load().deletion_grace_days)
        _move(current, Status.CLOSED, event="cancelled", actor=actor, reason=reason,
              deletion_due_at=current.deletion_due_at.isoformat())
    return _copy_back(current, tenant)


def schedule_deletion(tenant: Tenant, *, actor=None, reason: str, days: int | None = None) -> Tenant:
    """Read-only and deleted in ``days`` (the platform's grace period when None; 0 = at the next daily run).

    Scheduling again with ``days`` moves the date; without, it changes nothing.
    """
    if days is not None and (isinstance(days, bool) or not isinstance(days, int)
                             or not 0 <= days <= MAX_DELETION_DAYS):
        raise ValidationError({"days": _("Days: enter a whole number from 0 to %(max)s.")
                               % {"max": MAX_DELETION_DAYS}})
    with _locked(tenant) as current:
        if current.status == Status.DELETION_SCHEDULED and days is None:
            return _copy_back(current, tenant)
        now = timezone.now()
        grace = PlatformSettings.load().deletion_grace_days if days is None else days
        current.cancelled_at = current.cancelled_at or now
        current.deletion_due_at = now + timedelta(days=grace)
        _move(current, Status.DELETION_SCHEDULED, event="deletion_scheduled", actor=actor, reason=reason,
              deletion_due_at=current.deletion_due_at.isoformat())
    return _copy_back(current, tenant)


def reactivate(tenant: Tenant, *, actor=None, reason: str) -> Tenant:
    """Back from cancelled or scheduled for deletion, with every record as it was."""
    with _locked(tenant) as current:
        if current.status in (Status.TRIAL, Status.ACTIVE):
            return _copy_back(current, tenant)
        _refuse_if(current.status not in ENDED, _(
            "Only a cancelled portal can be reactivated; this one is %(status)s.")
            % {"status": current.get_status_display().lower()})
        current.cancelled_at = current.deletion_due_at = None
        _move(current, _writable_status(current), event="reactivated", actor=actor, reason=reason)
    return _copy_back(current, tenant)


def delete_portal(tenant: Tenant, *, actor=None, reason: str) -> str:
    """Delete a cancelled portal for good: its schema, files, domains and row. Returns its schema name.

    The audit log keeps the portal's name (``tenant_label``); its lines' FK becomes NULL.
    """
    return _delete(tenant, actor=actor, reason=reason)


def purge_due_portals(now: datetime | None = None) -> list[str]:
    """Delete every cancelled portal whose deletion date has passed (the daily job); their schema names."""
    now = now or timezone.now()
    due = list(Tenant.objects.filter(status__in=ENDED, deletion_due_at__lte=now).exclude(schema_name="public")
               .order_by("deletion_due_at").values_list("pk", flat=True))
    deleted = []
    for pk in due:
        tenant = Tenant.objects.filter(pk=pk).first()
        if tenant is None:
            continue
        try:
            deleted.append(_delete(tenant, actor=None, reason="the deletion date passed", due_by=now))
        except ValidationError:
            continue  # reactivated (or re-scheduled) since the list was read
        except Exception:
            # One portal failing must not keep the others alive past their date; retried tomorrow.
            log.exception("portal.purge_failed", schema=tenant.schema_name)
    return deleted


def remind_before_deletion(now: datetime | None = None) -> list[str]:
    """E-mail the admins of every cancelled portal deleted within REMINDER_DAYS, once per cancellation,
    so nobody loses data they meant to export or keep. Returns the schema names reminded."""
    now = now or timezone.now()
    due = (Tenant.objects.filter(status__in=ENDED, deletion_due_at__gt=now,
                                 deletion_due_at__lte=now + timedelta(days=REMINDER_DAYS))
           .exclude(schema_name="public").order_by("deletion_due_at"))
    reminded = []
    for tenant in due:
        already = AuditEvent.objects.filter(tenant=tenant, action="portal.deletion_reminder",
                                            created_at__gte=tenant.cancelled_at or tenant.updated_at).exists()
        if already:
            continue
        with transaction.atomic():
            audit.record(action="portal.deletion_reminder", tenant=tenant, reason="",
                         deletion_due_at=tenant.deletion_due_at.isoformat())
            _mail_after_commit(tenant, event="deletion_reminder", reason="", by_billing=False, details={})
        reminded.append(tenant.schema_name)
    return reminded


# --- Billing ------------------------------------------------------------------------------------

def apply_billing_status(tenant: Tenant, *, status: str, reason: str = "") -> Tenant:
    """A move billing makes (trial ended, payment failed or succeeded, dunning), audited and e-mailed.

    Billing never brings a cancelled portal back: only a reactivation does.
    """
    if status not in Status.values:
        raise ValueError(f"unknown portal status {status!r}")
    with _locked(tenant) as current:
        if current.status == status:
            return _copy_back(current, tenant)
        if current.status in ENDED and status not in ENDED:
            log.warning("portal.billing_move_refused", schema=current.schema_name, status=current.status,
                        wanted=status, reason=reason)
            return _copy_back(current, tenant)
        _move(current, status, event=BILLING_EVENTS[status], actor=None, reason=reason, source=BILLING_SOURCE)
    return _copy_back(current, tenant)


# --- Helpers ------------------------------------------------------------------------------------

@contextmanager
def _locked(tenant: Tenant) -> Iterator[Tenant]:
    """The portal's row, fresh and locked for the rest of the transaction (never a cached instance)."""
    with transaction.atomic():
        # NO KEY UPDATE: rows elsewhere that point at the portal (audit lines, sessions) can still be written.
        current = Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)
        _refuse_if(current.is_public, _("The public site has no lifecycle."))
        yield current


def _refuse_if(condition: bool, message: str) -> None:
    if condition:
        raise ValidationError({"status": message})


def _required_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Reason: please say why; the portal's administrators are told.")})
    return reason


def _copy_back(current: Tenant, tenant: Tenant) -> Tenant:
    for field in _LIFECYCLE_FIELDS:
        setattr(tenant, field, getattr(current, field))
    return tenant


def _writable_status(tenant: Tenant) -> str:
    """Trial while billing says the trial lasts, active otherwise."""
    ends_at = _first_answer(trial_end_requested.send(sender=Tenant, tenant=tenant))
    return Status.TRIAL if ends_at is not None and ends_at > timezone.now() else Status.ACTIVE


def _ask_to_extend_trial(tenant: Tenant, days: int) -> datetime:
    ends_at = _first_answer(trial_extension_requested.send(sender=Tenant, tenant=tenant, days=days))
    if ends_at is None:
        raise ValidationError({"days": _("This portal's trial cannot be extended: it has no subscription.")})
    return ends_at


def _first_answer(responses: list[tuple[object, object]]):
    return next((answer for _receiver, answer in responses if answer is not None), None)


def admin_emails(tenant: Tenant) -> list[str]:
    """The owner's and administrators' addresses (identity answers), without repeats."""
    emails: list[str] = []
    for _receiver, answer in portal_admins_requested.send(sender=Tenant, tenant=tenant):
        emails += [email for email in answer or () if email and email not in emails]
    return emails


def _move(current: Tenant, status: str, *, event: str, actor, reason: str, **details) -> None:
    """Write the new state (with ``current``'s date fields), one audit line, the signal, the e-mail."""
    previous = current.status
    current.status = status
    current.status_reason = (reason or "").strip()[:300]
    current.save(update_fields=[*_LIFECYCLE_FIELDS, "updated_at"])
    audit.record(action=f"portal.{event}", tenant=current, actor=actor, reason=reason,
                 previous_status=previous, status=status, **details)
    portal_status_changed.send(sender=Tenant, tenant=current, previous=previous, status=status, actor=actor,
                               reason=reason)
    _mail_after_commit(current, event=event, reason=reason, by_billing=details.get("source") == BILLING_SOURCE,
                       details=details)
    log.info("portal.status_changed", schema=current.schema_name, move=event, previous=previous, status=status)


def _mail_after_commit(tenant: Tenant, *, event: str, reason: str, by_billing: bool, details: dict) -> None:
    recipients = admin_emails(tenant)  # now: a deleted portal's members are gone after commit
    notice = lifecycle_mail.Notice.of(tenant, event=event, reason="" if by_billing else reason, details=details)
    transaction.on_commit(lambda: lifecycle_mail.send(notice, recipients))


def _delete(tenant: Tenant, *, actor, reason: str, due_by: datetime | None = None) -> str:
    from django.db import connection

    with _locked(tenant) as current:
        _refuse_if(current.status not in ENDED, _("Only a cancelled portal can be deleted; cancel it first."))
        _refuse_if(due_by is not None and (current.deletion_due_at is None or current.deletion_due_at > due_by),
                   _("The portal's deletion date has not come yet."))
        schema_name = current.schema_name
        _mail_after_commit(current, event="deleted", reason=reason, by_billing=False, details={})
        audit.record(action="portal.deleted", tenant=current, actor=actor, reason=reason,
                     previous_status=current.status, schema=schema_name)
        portal_status_changed.send(sender=Tenant, tenant=current, previous=current.status, status="deleted",
                                   actor=actor, reason=reason)
        Domain.objects.filter(tenant_id=current.pk).delete()
        PoolSchema.objects.filter(schema_name=schema_name).delete()
        if connection.schema_name != "public":
            connection.set_schema_to_public()  # django-tenants drops a schema only from public or itself
        with connection.cursor() as cursor:
            # Deferred foreign-key checks still pending on the portal's tables (rows written in this same
            # transaction) would make DROP SCHEMA fail; run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        current.delete(force_drop=True)  # DROP SCHEMA … CASCADE: transactional, so all or nothing
    transaction.on_commit(lambda: remove_files(schema_name))
    log.warning("portal.deleted", schema=schema_name, reason=reason)
    return schema_name


def files_prefix(schema_name: str) -> str:
    """Where every file of a portal lives in default_storage (logo, exports, attachments)."""
    return f"portals/{schema_name}/"


def remove_files(schema_name: str) -> int:
    """Delete every file under the portal's prefix; returns how many. Safe to run again."""
    from django.core.files.storage import default_storage

    removed = _remove_tree(default_storage, files_prefix(schema_name))
    try:
        import shutil

        shutil.rmtree(default_storage.path(files_prefix(schema_name)), ignore_errors=True)  # empty folders
    except NotImplementedError:
        pass  # object storage has no folders
    log.info("portal.files_removed", schema=schema_name, files=removed)
    return removed


def _remove_tree(storage, prefix: str) -> int:
    try:
        folders, files = storage.listdir(prefix)
    except FileNotFoundError:
        return 0
    for name in files:
        storage.delete(f"{prefix}{name}")
    return len(files) + sum(_remove_tree(storage, f"{prefix}{folder}/") for folder in folders)
