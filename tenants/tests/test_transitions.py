"""The portal lifecycle (tenants.transitions): every move and refusal, its audit line and its e-mail,
read-only states on the web and the API, and the daily purge that deletes a portal but keeps its audit log.

Moves that need billing's subscription (the trial) are also tested in tests/test_portal_lifecycle.py.
"""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import formats, timezone, translation

from tenants import jobs, transitions
from tenants.lifecycle import banner_for
from tenants.models import AuditEvent, Domain, PlatformSettings, Tenant
from tenants.services import create_tenant, set_status

pytestmark = pytest.mark.django_db
Status = Tenant.Status


@pytest.fixture
def staff():
    return get_user_model().objects.create_user(email="operator@kompas.test", password="Operator-haslo-2026",
                                                full_name="Olga Operator", is_staff=True)


@pytest.fixture
def english_portal(portal_a):
    """Portal A speaking English, so its e-mails and banners can be read here (the default is Polish)."""
    Tenant.objects.filter(pk=portal_a.tenant.pk).update(language="en")
    portal_a.tenant.language = "en"
    return portal_a


def _fresh(tenant) -> Tenant:
    return Tenant.objects.get(pk=tenant.pk)


def _audit(tenant, action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(tenant=tenant, action=action))


def _refused(call, *args, **kwargs) -> str:
    with translation.override("en"), pytest.raises(ValidationError) as error:
        call(*args, **kwargs)
    return " ".join(message for messages in error.value.message_dict.values() for message in messages)


def test_suspend_makes_the_portal_read_only_audits_and_emails_the_owner(english_portal, staff, smtp_inbox,
                                                                        django_capture_on_commit_callbacks):
    tenant = english_portal.tenant
    with django_capture_on_commit_callbacks(execute=True):
        transitions.suspend(tenant, actor=staff, reason="Spam sent from the portal's mailboxes")
    current = _fresh(tenant)
    assert (current.status, current.status_reason) == (Status.SUSPENDED, "Spam sent from the portal's mailboxes")
    assert tenant.status == Status.SUSPENDED  # the caller's instance follows
    [event] = _audit(tenant, "portal.suspended")
    assert (event.actor, event.actor_kind, event.details["previous_status"]) == (staff, "staff", Status.TRIAL)
    assert event.tenant_label == "Alfa Handel Sp. z o.o. (alfa)"
    [message] = smtp_inbox.wait_for(1)
    assert message["To"] == english_portal.owner.email
    assert message["Subject"] == "Alfa Handel Sp. z o.o. has been suspended"
    body = message.get_content()
    assert "read-only" in body and "Reason: Spam sent from the portal's mailboxes" in body
    with translation.override("en"):
        assert "the Kompas team has suspended it (reason: Spam sent" in banner_for(current)


def test_repeating_a_move_changes_nothing_and_sends_nothing(portal_a, staff, smtp_inbox,
                                                            django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        transitions.suspend(portal_a.tenant, actor=staff, reason="Pierwszy powód")
        transitions.suspend(portal_a.tenant, actor=staff, reason="Drugi powód")
    assert _fresh(portal_a.tenant).status_reason == "Pierwszy powód"
    assert len(_audit(portal_a.tenant, "portal.suspended")) == 1
    assert len(smtp_inbox.wait_for(2, timeout=1)) == 1


def test_resume_lifts_a_suspension_back_to_the_trial(portal_a, staff):
    transitions.suspend(portal_a.tenant, actor=staff, reason="Kontrola")
    transitions.resume(portal_a.tenant, actor=staff, reason="Wyjaśnione")
    current = _fresh(portal_a.tenant)
    assert (current.status, current.status_reason) == (Status.TRIAL, "Wyjaśnione")  # its 30-day trial still runs
    assert _audit(portal_a.tenant, "portal.resumed")[0].details == {"previous_status": "suspended",
                                                                    "status": "trial"}


def test_cancel_closes_the_portal_with_the_staff_grace_period(english_portal, smtp_inbox,
                                                              django_capture_on_commit_callbacks):
    PlatformSettings.objects.update_or_create(pk=1, defaults={"deletion_grace_days": 12})
    tenant = english_portal.tenant
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        transitions.cancel(tenant, actor=english_portal.owner, reason="Przechodzimy na inny system")
    current = _fresh(tenant)
    assert current.status == Status.CLOSED and current.cancelled_at >= before
    assert current.deletion_due_at - current.cancelled_at == datetime.timedelta(days=12)
    [event] = _audit(tenant, "portal.cancelled")
    assert event.actor_kind == "tenant" and event.reason == "Przechodzimy na inny system"
    [message] = smtp_inbox.wait_for(1)
    assert message["Subject"] == "Alfa Handel Sp. z o.o. has been cancelled"
    body = message.get_content()
    # The date is the portal's own (Europe/Warsaw), and the mail says what to do.
    due = timezone.localtime(current.deletion_due_at, zoneinfo.ZoneInfo("Europe/Warsaw"))
    with translation.override("en"):
        assert f"deleted permanently on {formats.date_format(due, 'DATETIME_FORMAT')}." in body
    assert "reactivate" in body and "http://alfa.kompas.test/settings/portal/" in body
    assert transitions.cancel(tenant, reason="again").status == Status.CLOSED  # idempotent
    assert len(_audit(tenant, "portal.cancelled")) == 1


def test_schedule_deletion_uses_the_grace_period_or_the_days_given(portal_a, staff):
    transitions.schedule_deletion(portal_a.tenant, actor=staff, reason="Na prośbę klienta")
    current = _fresh(portal_a.tenant)
    assert current.status == Status.DELETION_SCHEDULED
    assert current.deletion_due_at - timezone.now() > datetime.timedelta(days=29, hours=23)
    transitions.schedule_deletion(portal_a.tenant, actor=staff, reason="Szybciej", days=2)
    moved = _fresh(portal_a.tenant)
    assert datetime.timedelta(days=1, hours=23) < moved.deletion_due_at - timezone.now() <= datetime.timedelta(days=2)
    assert moved.cancelled_at == current.cancelled_at  # still cancelled since the first time
    assert len(_audit(portal_a.tenant, "portal.deletion_scheduled")) == 2


def test_reactivate_restores_a_cancelled_portal_and_clears_its_dates(portal_a, staff):
    transitions.cancel(portal_a.tenant, reason="")
    transitions.reactivate(portal_a.tenant, actor=staff, reason="Klient wrócił")
    current = _fresh(portal_a.tenant)
    assert (current.status, current.cancelled_at, current.deletion_due_at) == (Status.TRIAL, None, None)
    assert current.status_reason == "Klient wrócił"
    transitions.schedule_deletion(portal_a.tenant, reason="x", days=5)
    assert transitions.reactivate(portal_a.tenant, reason="").status == Status.TRIAL


@pytest.mark.parametrize(("setup", "call", "kwargs", "reason"), [
    (Status.CLOSED, transitions.suspend, {"reason": "x"}, "cancelled and already read-only"),
    (Status.DELETION_SCHEDULED, transitions.resume, {"reason": "x"}, "reactivate it instead"),
    (Status.PAST_DUE, transitions.resume, {"reason": "x"}, "waiting for a payment"),
    (Status.SUSPENDED, transitions.reactivate, {"reason": "x"}, "Only a cancelled portal can be reactivated"),
    (Status.PAST_DUE, transitions.reactivate, {"reason": "x"}, "this one is payment overdue"),
    (Status.ACTIVE, transitions.delete_portal, {"reason": "x"}, "Only a cancelled portal can be deleted"),
    (Status.CLOSED, transitions.extend_trial, {"reason": "x", "days": 7}, "reactivate it before extending"),
    (Status.ACTIVE, transitions.suspend, {"reason": "   "}, "Reason: please say why"),
    (Status.TRIAL, transitions.extend_trial, {"reason": "x", "days": 0}, "Days: enter a whole number from 1"),
    (Status.TRIAL, transitions.schedule_deletion, {"reason": "x", "days": -1}, "Days: enter a whole number from 0"),
])
def test_invalid_moves_are_refused_with_the_reason_and_write_nothing(portal_a, setup, call, kwargs, reason):
    Tenant.objects.filter(pk=portal_a.tenant.pk).update(status=setup, status_reason="przed")
    tenant = _fresh(portal_a.tenant)
    events = AuditEvent.objects.count()
    assert reason in _refused(call, tenant, **kwargs)
    assert (_fresh(tenant).status, _fresh(tenant).status_reason) == (setup, "przed")
    assert AuditEvent.objects.count() == events


def test_the_public_site_has_no_lifecycle(portals):
    public = Tenant.objects.get(schema_name="public")
    assert "no lifecycle" in _refused(transitions.suspend, public, reason="x")


@pytest.mark.parametrize("status", [Status.SUSPENDED, Status.CLOSED, Status.DELETION_SCHEDULED])
def test_read_only_states_refuse_writes_on_the_web_and_the_api_with_423(english_portal, status):
    tenant = english_portal.tenant
    Tenant.objects.filter(pk=tenant.pk).update(
        status=status, status_reason="Powód", cancelled_at=timezone.now(),
        deletion_due_at=timezone.make_aware(datetime.datetime(2031, 1, 15, 23, 30), datetime.UTC))
    client = english_portal.client(logged_in=True)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    page = client.get("/")
    assert page.status_code == 200 and "read-only" in page.content.decode()
    web = client.post("/crm/contacts/new/", {"last_name": "Nowak"})
    assert web.status_code == 423 and "read-only" in web.content.decode()
    api = client.post("/api/v1/contacts/", {"last_name": "Nowak"}, content_type="application/json")
    assert api.status_code == 423 and api.json()["error"]["code"] == "portal_read_only"
    if status != Status.SUSPENDED:
        # When the data goes, in the portal's time zone (Warsaw: 16 January, 00:30), and what to do.
        assert "Jan. 16, 2031, 12:30 a.m." in api.json()["error"]["message"]
        assert "reactivate it in Settings → Portal" in api.json()["error"]["message"]
    with connection.cursor() as cursor:  # nothing reached the portal's data (tenants cannot import the CRM)
        cursor.execute(f'SELECT count(*) FROM "{tenant.schema_name}".crm_contacts_contact WHERE last_name = %s',
                       ["Nowak"])
        assert cursor.fetchone() == (0,)


def test_reactivation_makes_writes_work_again(portal_a, staff):
    transitions.cancel(portal_a.tenant, reason="")
    client = portal_a.client(logged_in=True)
    assert client.post("/api/v1/contacts/", {"last_name": "Nowak"}, content_type="application/json").status_code == 423
    transitions.reactivate(portal_a.tenant, actor=staff, reason="Wróciło")
    created = client.post("/api/v1/contacts/", {"last_name": "Wiśniewska"}, content_type="application/json")
    assert created.status_code == 201, created.content


def test_billing_never_brings_a_cancelled_portal_back_and_its_moves_are_audited(portal_a, portal_b):
    set_status(tenant=portal_b.tenant, status=Status.PAST_DUE, reason="stripe subscription sub_1 is past_due")
    [event] = _audit(portal_b.tenant, "portal.past_due")
    assert (event.actor_kind, event.details["source"]) == ("system", "billing")

    for ended in (transitions.cancel, transitions.schedule_deletion):
        ended(portal_a.tenant, reason="Koniec")
        status = _fresh(portal_a.tenant).status
        for wanted in (Status.ACTIVE, Status.PAST_DUE, Status.SUSPENDED, Status.TRIAL):
            set_status(tenant=_fresh(portal_a.tenant), status=wanted, reason="stripe says so")
            assert _fresh(portal_a.tenant).status == status
        transitions.reactivate(portal_a.tenant, reason="")


def _schemas() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT schema_name FROM information_schema.schemata")
        return {row[0] for row in cursor.fetchall()}


def test_the_daily_purge_deletes_due_portals_schema_files_and_domains_but_keeps_the_audit_log(
        portals, portal_b, staff, smtp_inbox, django_capture_on_commit_callbacks):
    doomed = create_tenant(name="Gamma Usuwana", slug="gamma-usuwana")
    schema = doomed.schema_name
    logo = default_storage.save(f"portals/{schema}/logo-x.png", ContentFile(b"png"))
    export = default_storage.save(f"portals/{schema}/exports/eksport.zip", ContentFile(b"zip"))
    neighbour = default_storage.save(f"portals/{portal_b.tenant.schema_name}/logo-zostaje.png", ContentFile(b"b"))
    try:
        transitions.cancel(doomed, actor=staff, reason="Rezygnacja")
        transitions.cancel(portal_b.tenant, reason="Jeszcze nie teraz")  # due in 30 days: stays
        Tenant.objects.filter(pk=doomed.pk).update(deletion_due_at=timezone.now() - datetime.timedelta(minutes=1))
        with django_capture_on_commit_callbacks(execute=True):
            assert transitions.purge_due_portals() == [schema]
        assert schema not in _schemas() and portal_b.tenant.schema_name in _schemas()
        assert not Tenant.objects.filter(pk=doomed.pk).exists()
        assert not Domain.objects.filter(domain__startswith="gamma-usuwana.").exists()
        assert not default_storage.exists(logo) and not default_storage.exists(export)
        assert default_storage.exists(neighbour)
        events = AuditEvent.objects.filter(tenant_label="Gamma Usuwana (gamma-usuwana)").order_by("pk")
        assert [event.action for event in events] == ["portal.cancelled", "portal.deleted"]
        assert all(event.tenant_id is None for event in events)
        assert events[1].actor_kind == "system" and events[1].details["schema"] == schema
        assert _fresh(portal_b.tenant).status == Status.CLOSED
        assert transitions.purge_due_portals() == []
    finally:
        default_storage.delete(neighbour)


def test_the_purge_is_a_daily_control_plane_job():
    [(actor, cron)] = [(actor, cron) for actor, cron in jobs.PERIODIC_JOBS if actor is jobs.purge_due_portals]
    assert actor.options["control_plane"] is True
    assert cron.split()[2:] == ["*", "*", "*"]  # every day


def test_admins_are_reminded_once_a_week_before_the_data_goes(english_portal, portal_b, smtp_inbox,
                                                              django_capture_on_commit_callbacks):
    transitions.cancel(english_portal.tenant, reason="")
    transitions.cancel(portal_b.tenant, reason="")  # due in 30 days: not yet
    soon = timezone.now() + datetime.timedelta(days=3)
    Tenant.objects.filter(pk=english_portal.tenant.pk).update(deletion_due_at=soon)
    with django_capture_on_commit_callbacks(execute=True):
        assert transitions.remind_before_deletion() == [english_portal.tenant.schema_name]
        assert transitions.remind_before_deletion() == []  # once per cancellation
    [message] = smtp_inbox.wait_for(1)
    assert message["To"] == english_portal.owner.email
    assert message["Subject"].startswith("Alfa Handel Sp. z o.o. will be deleted on ")
    assert "This is a reminder" in message.get_content() and "full export" in message.get_content()


def test_the_last_email_says_the_portal_and_its_data_are_gone(english_portal):
    from tenants.lifecycle_mail import Notice

    notice = Notice.of(english_portal.tenant, event="deleted", reason="the deletion date passed", details={})
    assert notice.subject == "Alfa Handel Sp. z o.o. has been deleted"
    assert "(alfa) and all its data have been deleted permanently" in notice.body
    assert "Reason: the deletion date passed" in notice.body
