"""Control-plane jobs of the tenants layer."""

from __future__ import annotations

import dramatiq

from tenants import pool


@dramatiq.actor(control_plane=True, queue_name="provisioning", max_retries=3, time_limit=30 * 60_000)
def top_up_tenant_pool() -> None:
    pool.fill()


PERIODIC_JOBS = [(top_up_tenant_pool, "*/5 * * * *")]
