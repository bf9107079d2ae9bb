"""Control-plane jobs of the tenants layer."""

from __future__ import annotations

import dramatiq

from tenants import domains, pool, transitions


@dramatiq.actor(control_plane=True, queue_name="provisioning", max_retries=3, time_limit=30 * 60_000)
def top_up_tenant_pool() -> None:
    pool.fill()


@dramatiq.actor(control_plane=True, queue_name="domains", max_retries=0, time_limit=15 * 60_000)
def check_pending_domains() -> None:
    # No retries: the next run five minutes later is the retry, with the backoff in tenants.selectors.
    domains.check_due_domains()


@dramatiq.actor(control_plane=True, queue_name="provisioning", max_retries=0, time_limit=60 * 60_000)
def purge_due_portals() -> None:
    # No retries: a portal that failed is tried again by tomorrow's run (see transitions.purge_due_portals).
    transitions.purge_due_portals()
    transitions.remind_before_deletion()


@dramatiq.actor(control_plane=True, queue_name="provisioning", max_retries=0, time_limit=15 * 60_000)
def reconcile_provisioning() -> None:
    # No retries: the next run is the retry. Fixes half-built schemas, orphans and stuck signups.
    from tenants import reconcile

    reconcile.reconcile()


PERIODIC_JOBS = [(top_up_tenant_pool, "*/5 * * * *"), (reconcile_provisioning, "2-59/5 * * * *"),
                 (check_pending_domains, "*/5 * * * *"),
                 (purge_due_portals, "20 4 * * *")]
