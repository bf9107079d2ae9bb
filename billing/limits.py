"""The one limits service every feature asks: "may this portal add one more X?".

Usage is counted by the layer that owns the thing counted (identity counts seats, crm counts
pipelines, …): those layers sit above billing, so they register a counter here instead of
billing importing them (DESIGN.md: lower layers never import higher ones).

``admit()`` is exact under concurrency: it takes a transaction-scoped advisory lock on
(portal, resource), counts, checks and lets the caller add inside the same transaction, so
fifty invites racing for the last seat admit exactly one.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils.translation import gettext as _

from billing.models import Feature, Plan, Resource
from billing.selectors import plan_and_seats
from tenants.models import Tenant

UsageCounter = Callable[[Tenant], int]
_counters: dict[str, UsageCounter] = {}


def register_usage_counter(resource: str, counter: UsageCounter) -> None:
    """Called by the owning layer at startup (its AppConfig.ready)."""
    if resource not in Resource.values:
        raise ValueError(f"unknown resource {resource!r}")
    _counters[resource] = counter


class LimitReached(ValidationError):
    """The plan's limit for a resource is reached; the message says the limit, the usage and the way out."""

    def __init__(self, *, resource: str, limit: int, used: int, adding: int) -> None:
        self.resource, self.limit, self.used, self.adding = resource, limit, used, adding
        label = Resource(resource).label
        message = _(
            "Your plan allows %(limit)s %(label)s and %(used)s are in use, so %(adding)s more cannot be "
            "added. An administrator can raise the limit by choosing a bigger plan in Settings → Billing."
        ) % {"limit": limit, "label": label, "used": used, "adding": adding}
        super().__init__({resource: message}, code="limit_reached")


class FeatureNotInPlan(ValidationError):
    def __init__(self, feature: str) -> None:
        self.feature = feature
        message = _("%(feature)s is not included in your plan. An administrator can choose a plan that "
                    "includes it in Settings → Billing.") % {"feature": str(Feature(feature).label).capitalize()}
        super().__init__({feature: message}, code="feature_not_in_plan")


@dataclass(frozen=True)
class UsageLine:
    resource: str
    label: str
    used: int
    limit: int | None

    @property
    def is_over(self) -> bool:
        return self.limit is not None and self.used > self.limit

    @property
    def percent(self) -> int | None:
        if not self.limit:
            return None
        return min(100, round(100 * self.used / self.limit))


def limit_of(tenant: Tenant, resource: str) -> int | None:
    plan, seats = plan_and_seats(tenant)
    return plan.limit(resource, seats_bought=seats)


def usage_of(tenant: Tenant, resource: str) -> int:
    counter = _counters.get(resource)
    return counter(tenant) if counter is not None else 0


def usage_report(tenant: Tenant) -> list[UsageLine]:
    plan, seats = plan_and_seats(tenant)
    return [
        UsageLine(resource=value, label=str(label), used=usage_of(tenant, value),
                  limit=plan.limit(value, seats_bought=seats))
        for value, label in Resource.choices
    ]


def over_limits_on(tenant: Tenant, plan: Plan, *, seats: int | None = None) -> list[UsageLine]:
    """What the portal would have to reduce to fit ``plan`` (used for downgrades)."""
    lines = []
    for value, label in Resource.choices:
        limit = plan.limit(value, seats_bought=seats)
        line = UsageLine(resource=value, label=str(label), used=usage_of(tenant, value), limit=limit)
        if line.is_over:
            lines.append(line)
    return lines


def has_feature(tenant: Tenant, feature: str) -> bool:
    plan, _seats = plan_and_seats(tenant)
    return plan.has_feature(feature)


def require_feature(tenant: Tenant, feature: str) -> None:
    if not has_feature(tenant, feature):
        raise FeatureNotInPlan(feature)


def _lock_key(tenant: Tenant, resource: str) -> tuple[int, int]:
    # Two 32-bit keys: the portal and the resource. crc32 fits the signed int4 after the shift.
    return int(tenant.pk) % 2_147_483_647, zlib.crc32(resource.encode()) - 2_147_483_648


@contextmanager
def admit(tenant: Tenant, resource: str, adding: int = 1) -> Iterator[None]:
    """Hold the portal's lock on ``resource`` while the caller adds ``adding`` of it.

    Must be used inside ``transaction.atomic()``; the lock is released at commit or rollback,
    after the caller's rows are visible to the next waiter.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("billing.limits.admit() must run inside transaction.atomic()")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", _lock_key(tenant, resource))
    limit = limit_of(tenant, resource)
    if limit is not None:
        used = usage_of(tenant, resource)
        if used + adding > limit:
            raise LimitReached(resource=resource, limit=limit, used=used, adding=adding)
    yield


def check(tenant: Tenant, resource: str, adding: int = 1) -> None:
    """Advisory check without a lock, for showing a disabled button; writers use ``admit``."""
    limit = limit_of(tenant, resource)
    if limit is not None:
        used = usage_of(tenant, resource)
        if used + adding > limit:
            raise LimitReached(resource=resource, limit=limit, used=used, adding=adding)


