"""Periodic jobs of the staff console (control plane, public schema)."""

import dramatiq

from kompas.staff import services


@dramatiq.actor(control_plane=True, queue_name="default", max_retries=3)
def end_expired_impersonations() -> None:
    """Staff access past its time is closed and audited even if nobody opens the portal again."""
    services.end_expired_impersonations()


PERIODIC_JOBS = [(end_expired_impersonations, "*/5 * * * *")]
