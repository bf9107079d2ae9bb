"""The e-mail a portal's owner and administrators get after each lifecycle move, in the portal's language.

The text is rendered when the move is made (the portal may be gone when the mail leaves) and sent
after commit, one message per person so no one sees the others' addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from django.conf import settings
from django.core.mail import send_mass_mail
from django.utils import translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from tenants.lifecycle import PAYMENT_GRACE_DAYS, local_datetime
from tenants.models import Tenant

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Notice:
    subject: str
    body: str

    @classmethod
    def of(cls, tenant: Tenant, *, event: str, reason: str, details: dict) -> Notice:
        with translation.override(tenant.language or "pl"):
            return cls(*_texts(tenant, event=event, reason=reason, details=details))


def send(notice: Notice, recipients: list[str]) -> int:
    if not recipients:
        return 0
    messages = [(notice.subject, notice.body, settings.DEFAULT_FROM_EMAIL, [email]) for email in recipients]
    try:
        return send_mass_mail(messages, fail_silently=False)
    except OSError:
        # The move has happened and is in the audit log; a mail server being down must not undo it.
        log.exception("portal.lifecycle_mail_failed", subject=notice.subject, recipients=len(recipients))
        return 0


def _settings_link(tenant: Tenant, page: str = "portal") -> str:
    from tenants.selectors import portal_url

    return f"{portal_url(tenant)}settings/{page}/"


def _date(tenant: Tenant, value: datetime | str | None) -> str:
    if isinstance(value, str):
        value = parse_datetime(value)
    return local_datetime(tenant, value) if value else "—"


def _texts(tenant: Tenant, *, event: str, reason: str, details: dict) -> tuple[str, str]:
    values = {"portal": tenant.name, "address": tenant.slug, "reason": reason,
              "date": _date(tenant, tenant.deletion_due_at), "days": PAYMENT_GRACE_DAYS}
    if event in ("deleted",):
        subject = _("%(portal)s has been deleted") % values
        body = _("The %(portal)s portal (%(address)s) and all its data have been deleted permanently.") % values
        return subject, _with_reason(body, reason) + _signature()
    values["link"] = _settings_link(tenant)
    subject, body = _subject_and_body(event, tenant, values, details)
    return subject, _with_reason(body, reason) + _signature()


def _subject_and_body(event: str, tenant: Tenant, values: dict, details: dict) -> tuple[str, str]:
    if event == "suspended" and not values["reason"]:  # by billing, for non-payment
        return (_("%(portal)s is read-only: the subscription is unpaid") % values,
                _("The %(portal)s portal is read-only from now on because its subscription is unpaid. No data has "
                  "been deleted. An administrator can restore full access at once by paying in Settings → "
                  "Billing:\n%(link)s") % {**values, "link": _settings_link(tenant, "billing")})
    if event == "suspended":
        return (_("%(portal)s has been suspended") % values,
                _("The Kompas team has suspended the %(portal)s portal. It is read-only from now on; no data has "
                  "been deleted. To restore full access, contact Kompas support by replying to this e-mail.")
                % values)
    if event == "past_due":
        return (_("The payment for %(portal)s failed") % values,
                _("The last payment for the %(portal)s portal failed. Please update the payment method in "
                  "Settings → Billing within %(days)s days, or the portal will become read-only:\n%(link)s")
                % {**values, "link": _settings_link(tenant, "billing")})
    if event in ("resumed", "activated", "trial_started"):
        return (_("%(portal)s is fully available again") % values,
                _("Everyone in the %(portal)s portal can work in it as before.") % values)
    if event == "trial_extended":
        values["trial_end"] = _date(tenant, details.get("trial_ends_at"))
        return (_("The trial of %(portal)s has been extended") % values,
                _("The trial of the %(portal)s portal now lasts until %(trial_end)s.") % values)
    if event == "cancelled":
        return (_("%(portal)s has been cancelled") % values,
                _("The %(portal)s portal has been cancelled and is read-only from now on. All its data will be "
                  "deleted permanently on %(date)s.\n\nUntil then an administrator can reactivate the portal, "
                  "with all its data, or download a full export in Settings → Portal:\n%(link)s") % values)
    if event == "deletion_scheduled":
        return (_("%(portal)s will be deleted on %(date)s") % values,
                _("The %(portal)s portal is read-only and scheduled for deletion: all its data will be deleted "
                  "permanently on %(date)s.\n\nUntil then an administrator can reactivate the portal, with all "
                  "its data, or download a full export in Settings → Portal:\n%(link)s") % values)
    if event == "deletion_reminder":
        return (_("%(portal)s will be deleted on %(date)s") % values,
                _("This is a reminder: the %(portal)s portal is cancelled, and all its data will be deleted "
                  "permanently on %(date)s.\n\nUntil then an administrator can reactivate the portal, with all "
                  "its data, or download a full export in Settings → Portal:\n%(link)s") % values)
    if event == "reactivated":
        return (_("%(portal)s has been reactivated") % values,
                _("The %(portal)s portal has been reactivated with all its data; everyone can work in it as "
                  "before.\n%(link)s") % values)
    return (_("The status of %(portal)s has changed") % values,
            _("The %(portal)s portal is now: %(status)s.") % {**values, "status": tenant.get_status_display()})


def _with_reason(body: str, reason: str) -> str:
    if not reason:
        return body
    return body + "\n\n" + _("Reason: %(reason)s") % {"reason": reason}


def _signature() -> str:
    return "\n\n" + _("— Kompas") + "\n"
