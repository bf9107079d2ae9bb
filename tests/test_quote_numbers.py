"""Quote numbers under concurrency: two transactions on real connections never share a number
(the series row is locked with SELECT … FOR UPDATE until the first one commits)."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.db import connections, transaction
from django_tenants.utils import tenant_context

from crm.quotes.models import NumberSequence
from crm.quotes.services import next_number

pytestmark = pytest.mark.django_db(transaction=False)

FAR_YEAR = datetime.date(2091, 5, 1)  # a series of its own, removed afterwards


def _take_number(tenant, barrier: threading.Barrier, results: list, errors: list) -> None:
    try:
        with tenant_context(tenant):
            barrier.wait(timeout=10)
            with transaction.atomic():
                number = next_number(today=FAR_YEAR)
                time.sleep(0.3)  # hold the lock: the other thread must wait, not read the same last number
            results.append(number)
    except BaseException as error:  # handed to the test below
        errors.append(error)
    finally:
        connections.close_all()


def _forget_series(tenant) -> None:
    try:
        with tenant_context(tenant):
            NumberSequence.objects.filter(series=f"OF/{FAR_YEAR.year}").delete()
    finally:
        connections.close_all()


def test_two_concurrent_quotes_never_get_the_same_number(portal_a):
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=_take_number, args=(portal_a.tenant, barrier, results, errors))
               for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not errors, errors
        assert sorted(results) == ["OF/2091/0001", "OF/2091/0002"]
    finally:
        cleaner = threading.Thread(target=_forget_series, args=(portal_a.tenant,))
        cleaner.start()
        cleaner.join()
