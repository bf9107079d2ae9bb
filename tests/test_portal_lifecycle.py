"""The portal lifecycle across layers: billing's trial and Stripe moves, the administrators' close /
reactivate / export pages, the full export's content, and isolation between portals.

It lives in tests/ because it uses billing, identity, the CRM and kompas together (tenants may not import them).
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import timedelta

import dramatiq
import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone, translation
from django_tenants.utils import tenant_context
from dramatiq import Worker

from billing import dunning
from billing.models import Plan, Subscription
from billing.tests.fake_stripe import (
    deliver,
    fake_stripe_fixture,  # noqa: F401
    subscribe,
)
from crm.contacts.models import Company, Contact
from crm.core import full_export
from crm.core import jobs as crm_jobs
from crm.core.models import CustomField
from identity.accounts.models import User
from identity.members.services import add_member
from kompas.testing.fixtures import PASSWORD, in_own_connection
from tenants import transitions
from tenants.models import AuditEvent, Tenant

pytestmark = pytest.mark.django_db
Status = Tenant.Status


def _status(portal) -> str:
    return Tenant.objects.get(pk=portal.tenant.pk).status


def _admin_client(portal) -> Client:
    client = portal.client(logged_in=True)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _member_client(portal, email: str = "zwykly.handlowiec@alfa-handel.pl") -> Client:
    user = User.objects.create_user(email=email, password=PASSWORD, full_name="Zwykły Handlowiec")
    with tenant_context(portal.tenant):
        add_member(user=user)
    client = Client(HTTP_HOST=portal.host, HTTP_ACCEPT_LANGUAGE="en")
    with tenant_context(portal.tenant):
        assert client.login(username=email, password=PASSWORD)
    return client


# --- Billing: the trial, and Stripe never bringing a cancelled portal back ---------------------------

def test_extend_trial_moves_the_subscriptions_trial_end(portal_a):
    before = Subscription.objects.get(tenant=portal_a.tenant).trial_ends_at
    transitions.extend_trial(portal_a.tenant, days=14, actor=None, reason="Wdrożenie trwa dłużej")
    subscription = Subscription.objects.get(tenant=portal_a.tenant)
    assert subscription.trial_ends_at - before == timedelta(days=14)
    [event] = AuditEvent.objects.filter(tenant=portal_a.tenant, action="portal.trial_extended")
    assert event.details["days"] == 14 and event.details["trial_ends_at"] == subscription.trial_ends_at.isoformat()


def test_a_portal_past_its_trial_gets_a_new_one_and_resume_knows_when_the_trial_ended(portal_a):
    Subscription.objects.filter(tenant=portal_a.tenant).update(
        status=Subscription.Status.FREE, plan=Plan.objects.get(code="free"), trial_ends_at=timezone.now())
    Tenant.objects.filter(pk=portal_a.tenant.pk).update(status=Status.ACTIVE)
    transitions.suspend(portal_a.tenant, reason="Kontrola")
    transitions.resume(portal_a.tenant, reason="OK")
    assert _status(portal_a) == Status.ACTIVE  # the trial is over: active, not trial

    transitions.extend_trial(portal_a.tenant, days=7, reason="Druga szansa")
    subscription = Subscription.objects.get(tenant=portal_a.tenant)
    assert subscription.status == Subscription.Status.TRIALING and subscription.plan.code == "enterprise"
    assert _status(portal_a) == Status.TRIAL


def test_a_portal_paying_through_stripe_cannot_have_its_trial_extended(portal_a):
    Subscription.objects.filter(tenant=portal_a.tenant).update(stripe_subscription_id="sub_123",
                                                               status=Subscription.Status.ACTIVE)
    Tenant.objects.filter(pk=portal_a.tenant.pk).update(status=Status.ACTIVE)
    with translation.override("en"), pytest.raises(ValidationError) as error:
        transitions.extend_trial(portal_a.tenant, days=7, reason="x")
    assert "pays through its Stripe subscription" in error.value.message_dict["days"][0]
    assert not AuditEvent.objects.filter(tenant=portal_a.tenant, action="portal.trial_extended").exists()


@pytest.fixture
def stripe_client(portals) -> Client:
    return Client()


def test_payments_and_dunning_never_bring_a_cancelled_portal_back(portal_a, stripe_client, fake_stripe):
    outcome = subscribe(fake_stripe, stripe_client, portal_a.tenant)
    failed = fake_stripe.renew(outcome.subscription["id"], paid=False)
    deliver(stripe_client, fake_stripe.event("invoice.payment_failed", failed))
    assert _status(portal_a) == Status.PAST_DUE
    assert AuditEvent.objects.filter(tenant=portal_a.tenant, action="portal.past_due",
                                     details__source="billing").exists()

    transitions.cancel(portal_a.tenant, actor=portal_a.owner, reason="Rezygnujemy")
    assert dunning.enforce_dunning(now=timezone.now() + timedelta(days=30)) == []
    deliver(stripe_client, fake_stripe.event("invoice.paid", fake_stripe.pay_invoice(failed["id"])))
    assert _status(portal_a) == Status.CLOSED

    transitions.schedule_deletion(portal_a.tenant, reason="Na prośbę", days=3)
    assert dunning.enforce_dunning(now=timezone.now() + timedelta(days=30)) == []
    deliver(stripe_client, fake_stripe.event("invoice.paid", fake_stripe.pay_invoice(failed["id"])))
    assert _status(portal_a) == Status.DELETION_SCHEDULED


# --- Settings → Portal: close, reactivate ----------------------------------------------------------

def test_an_administrator_closes_the_portal_after_typing_its_address(portal_a, smtp_inbox,
                                                                     django_capture_on_commit_callbacks):
    admin = _admin_client(portal_a)
    page = admin.get("/settings/portal/")
    assert "Close the portal" in page.content.decode() and "Prepare a full export" in page.content.decode()

    wrong = admin.post("/settings/portal/close/", {"address": "beta", "reason": ""}, follow=True)
    assert "Portal address: type alfa exactly" in wrong.content.decode()
    assert _status(portal_a) == Status.TRIAL

    with django_capture_on_commit_callbacks(execute=True):
        closed = admin.post("/settings/portal/close/", {"address": "alfa.kompas.test", "reason": "Za drogo"})
    assert closed.status_code == 302
    tenant = Tenant.objects.get(pk=portal_a.tenant.pk)
    assert (tenant.status, tenant.status_reason) == (Status.CLOSED, "Za drogo")
    event = AuditEvent.objects.get(tenant=tenant, action="portal.cancelled")
    assert (event.actor_id, event.actor_kind) == (portal_a.owner.pk, "tenant")
    [message] = smtp_inbox.wait_for(1)
    assert message["To"] == portal_a.owner.email and "http://alfa.kompas.test/settings/portal/" in message.get_content()

    page = admin.get("/settings/portal/").content.decode()
    assert "Reactivate the portal" in page and "Close the portal" not in page
    assert "scheduled" not in page and "will be deleted permanently on" in page


def test_a_closed_portal_keeps_its_data_is_read_only_and_comes_back_on_reactivation(portal_a):
    admin = _admin_client(portal_a)
    created = admin.post("/api/v1/contacts/", {"last_name": "Przedzamknięciem"}, content_type="application/json")
    assert created.status_code == 201, created.content
    admin.post("/settings/portal/close/", {"address": "alfa", "reason": ""})
    assert _status(portal_a) == Status.CLOSED

    assert admin.post("/settings/portal/", {"name": "Nowa nazwa", "language": "pl", "time_zone": "Europe/Warsaw",
                                            "currency": "PLN"}).status_code == 423
    assert admin.post("/api/v1/contacts/", {"last_name": "Nowy"}, content_type="application/json").status_code == 423
    assert admin.get(f"/api/v1/contacts/{created.json()['id']}/").status_code == 200  # reading works
    settings_page = admin.get("/settings/portal/").content.decode()
    assert settings_page.count('<fieldset class="plain" disabled>') == 2  # no Save that would get 423

    assert admin.post("/settings/portal/reactivate/").status_code == 302
    assert _status(portal_a) == Status.TRIAL
    again = admin.post("/api/v1/contacts/", {"last_name": "Po powrocie"}, content_type="application/json")
    assert again.status_code == 201
    assert "disabled>" not in admin.get("/settings/portal/").content.decode().split('id="modules"', 1)[1]
    with tenant_context(portal_a.tenant):
        assert Contact.objects.filter(last_name="Przedzamknięciem").exists()
    assert AuditEvent.objects.get(tenant=portal_a.tenant, action="portal.reactivated").actor_kind == "tenant"


def test_a_suspended_portal_can_still_be_closed_and_exported_by_its_administrator(portal_a):
    transitions.suspend(portal_a.tenant, reason="Kontrola")
    admin = _admin_client(portal_a)
    assert admin.post("/settings/portal/close/", {"address": "alfa"}).status_code == 302
    assert _status(portal_a) == Status.CLOSED


def test_members_without_admin_rights_cannot_close_reactivate_or_export(portal_a):
    member = _member_client(portal_a)
    assert member.post("/settings/portal/close/", {"address": "alfa"}).status_code == 403
    assert _status(portal_a) == Status.TRIAL
    transitions.cancel(portal_a.tenant, reason="")
    assert member.post("/settings/portal/reactivate/").status_code == 403
    assert member.post("/settings/portal/export/").status_code == 403
    assert _status(portal_a) == Status.CLOSED


def test_an_administrator_of_portal_b_reaches_nothing_of_portal_a(portal_a, portal_b):
    admin_b = _admin_client(portal_b)
    # B's session on A's host (a spoofed Host header): not signed in there, sent to the login page.
    closing = admin_b.post("/settings/portal/close/", {"address": "alfa"}, HTTP_HOST=portal_a.host)
    assert closing.status_code == 302 and "/auth/login/" in closing["Location"]
    assert _status(portal_a) == Status.TRIAL
    transitions.cancel(portal_a.tenant, reason="")
    for path in ("/settings/portal/reactivate/", "/settings/portal/export/"):
        response = admin_b.post(path, HTTP_HOST=portal_a.host)
        assert response.status_code == 302 and "/auth/login/" in response["Location"]
    assert _status(portal_a) == Status.CLOSED
    assert not AuditEvent.objects.filter(tenant=portal_a.tenant, action="portal.export_requested").exists()
    # On its own host, B's administrator acts on B only.
    admin_b.post("/settings/portal/close/", {"address": "alfa"})
    assert _status(portal_b) == Status.TRIAL  # A's address does not close B
    assert _status(portal_a) == Status.CLOSED


# --- The full export -------------------------------------------------------------------------------

def _export_rows(name: str, member: str) -> list[list[str]]:
    with default_storage.open(full_export.exports_prefix() + name, "rb") as stored:
        archive = zipfile.ZipFile(io.BytesIO(stored.read()))
    text = archive.read(member).decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads the Polish letters
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))


def test_the_full_export_has_one_csv_per_entity_with_every_record_and_custom_field(portal_a):
    with tenant_context(portal_a.tenant), translation.override("pl"):
        CustomField.objects.create(entity="contact", code="pseudonim", label="Pseudonim", field_type="text")
        company = Company.objects.create(name="Zakład Łódź-Bałuty Sp. z o.o.")
        Contact.objects.create(first_name="Żaneta", last_name="Gęślarz-Źdźbło", company=company,
                               custom={"pseudonim": "Łasica"})
        Contact.objects.create(first_name="Usunięta", last_name="Kosz", deleted_at=timezone.now())
        name = full_export.write_full_export()
        try:
            archive_names = zipfile.ZipFile(default_storage.open(full_export.exports_prefix() + name, "rb")).namelist()
            assert {"contacts.csv", "companies.csv", "leads.csv", "deals.csv", "tasks.csv", "activities.csv",
                    "history.csv"} <= set(archive_names)
            header, *rows = _export_rows(name, "contacts.csv")
            assert "Pseudonim" in header
            [row] = [row for row in rows if "Gęślarz-Źdźbło" in row]
            assert row[header.index("Pseudonim")] == "Łasica" and "Żaneta" in row
            assert "Zakład Łódź-Bałuty Sp. z o.o." in row  # the company by name, not by id
            assert not any("Kosz" in row for row in rows)  # the recycle bin is not part of the portal's data
            _header, *companies = _export_rows(name, "companies.csv")
            assert any("Zakład Łódź-Bałuty Sp. z o.o." in row for row in companies)
            assert [item.name for item in full_export.exports()] == [name]
        finally:
            default_storage.delete(full_export.exports_prefix() + name)


def _clean_exports(tenant) -> None:
    with tenant_context(tenant):
        for item in full_export.exports():
            default_storage.delete(full_export.exports_prefix() + item.name)
    AuditEvent.objects.filter(tenant=tenant, action="portal.export_created").delete()


def test_a_closed_portals_admin_asks_for_the_export_gets_a_link_and_only_its_admins_download_it(
        portal_a, portal_b, smtp_inbox):
    transitions.cancel(portal_a.tenant, reason="")
    admin = _admin_client(portal_a)
    broker = dramatiq.get_broker()
    broker.flush(crm_jobs.QUEUE)
    worker = Worker(broker, queues={crm_jobs.QUEUE}, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        assert admin.post("/settings/portal/export/").status_code == 302  # allowed while closed
        broker.join(crm_jobs.QUEUE, timeout=60_000,
                    **({"fail_fast": True} if "Stub" in type(broker).__name__ else {}))
        [message] = smtp_inbox.wait_for(1)
        link = re.search(r"http://alfa\.kompas\.test/settings/portal/export/(\S+\.zip)", message.get_content())
        assert link, message.get_content()
        name = link.group(1)
        download = admin.get(f"/settings/portal/export/{name}")
        assert download.status_code == 200 and download["Content-Type"] == "application/zip"
        assert "contacts.csv" in zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))).namelist()
        assert name in admin.get("/settings/portal/").content.decode()

        # Nobody else: a member without admin rights, B's admin on B's host (a guessed name), or
        # with a spoofed Host, and no path tricks.
        assert _member_client(portal_a).get(f"/settings/portal/export/{name}").status_code == 403
        admin_b = _admin_client(portal_b)
        assert admin_b.get(f"/settings/portal/export/{name}").status_code == 404
        spoofed = admin_b.get(f"/settings/portal/export/{name}", HTTP_HOST=portal_a.host)
        assert spoofed.status_code == 302 and "/auth/login/" in spoofed["Location"]
        sneaky = f"..%2F..%2F{portal_a.tenant.schema_name}%2Fexports%2F{name}"
        assert admin_b.get(f"/settings/portal/export/{sneaky}").status_code == 404
        assert admin_b.get(f"/files/portals/{portal_a.tenant.schema_name}/exports/{name}").status_code == 404
    finally:
        worker.stop()
        broker.flush(crm_jobs.QUEUE)
        in_own_connection(_clean_exports, portal_a.tenant)
