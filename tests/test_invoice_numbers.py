"""Invoice numbers under concurrency: invoices issued at the same moment over separate connections
never share or skip a number (the series row is locked with SELECT … FOR UPDATE), and a rolled-back
issue gives its number back. Lives in tests/ because it uses kompas.testing (crm/ may not)."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connections, transaction
from django_tenants.utils import tenant_context

from crm.invoices import services
from crm.invoices.models import Invoice, NumberingSeries
from identity.members.models import Membership
from kompas.testing.fixtures import in_own_connection

pytestmark = pytest.mark.django_db(transaction=False)
DAY = datetime.date(2031, 3, 14)


def _drafts(tenant, count: int) -> list[int]:
    with tenant_context(tenant):
        admin = Membership.objects.filter(is_active=True).order_by("pk").first()
        return [services.create_invoice(actor=admin, values={"buyer_name": f"Nabywca {i} — Źródło"},
                                        lines=[{"name": "Usługa", "unit_price": "100"}]).pk for i in range(count)]


def _series(tenant) -> tuple[str, int, str]:
    with tenant_context(tenant):
        series = services.series_of("vat")
        return series.period, series.next_number, series.pattern


def _numbers(tenant, pks: list[int]) -> list[str]:
    with tenant_context(tenant):
        return sorted(Invoice.objects.filter(pk__in=pks).values_list("number", flat=True))


def _clean_up(tenant, pks: list[int], saved: tuple[str, int, str]) -> None:
    with tenant_context(tenant):
        from crm.core.models import ChangeEntry

        Invoice.objects.filter(pk__in=pks).delete()
        ChangeEntry.objects.filter(entity="invoice", record_id__in=pks).delete()
        NumberingSeries.objects.filter(kind="vat").update(period=saved[0], next_number=saved[1], pattern=saved[2])


def _issue_together(tenant, pks: list[int], *, fail: set[int] = frozenset()) -> list[BaseException]:
    """Each draft issued in its own thread and connection, all released at once."""
    barrier, errors = threading.Barrier(len(pks)), []

    def issue(pk: int) -> None:
        try:
            with tenant_context(tenant):
                admin = Membership.objects.filter(is_active=True).order_by("pk").first()
                invoice = Invoice.objects.get(pk=pk)
                barrier.wait(timeout=10)
                with transaction.atomic():
                    services.issue_invoice(actor=admin, invoice=invoice, issue_date=DAY)
                    if pk in fail:
                        raise RuntimeError("the issue is rolled back")
        except BaseException as error:  # collected for the test
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=issue, args=(pk,)) for pk in pks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors


def test_concurrent_issues_get_consecutive_distinct_numbers(portal_a):
    saved = in_own_connection(_series, portal_a.tenant)
    pks = in_own_connection(_drafts, portal_a.tenant, 8)
    try:
        assert _issue_together(portal_a.tenant, pks) == []
        assert in_own_connection(_numbers, portal_a.tenant, pks) == [f"FV/2031/03/{n:04}" for n in range(1, 9)]
    finally:
        in_own_connection(_clean_up, portal_a.tenant, pks, saved)


def test_a_rolled_back_issue_does_not_skip_a_number(portal_a):
    saved = in_own_connection(_series, portal_a.tenant)
    pks = in_own_connection(_drafts, portal_a.tenant, 5)
    try:
        errors = _issue_together(portal_a.tenant, pks, fail={pks[1], pks[3]})
        assert len(errors) == 2 and all(isinstance(error, RuntimeError) for error in errors)
        numbers = [number for number in in_own_connection(_numbers, portal_a.tenant, pks) if number]
        assert numbers == ["FV/2031/03/0001", "FV/2031/03/0002", "FV/2031/03/0003"]
        assert in_own_connection(_series, portal_a.tenant)[1] == 4
    finally:
        in_own_connection(_clean_up, portal_a.tenant, pks, saved)
