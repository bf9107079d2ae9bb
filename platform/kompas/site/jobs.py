"""Control-plane jobs of the public site."""

from __future__ import annotations

import dramatiq


@dramatiq.actor(control_plane=True, queue_name="provisioning", max_retries=3)
def forget_old_signups() -> None:
    """Expired signups lose their password hash; signups older than 30 days are deleted."""
    from kompas.site.signup import forget_old

    forget_old()


PERIODIC_JOBS = [(forget_old_signups, "17 * * * *")]
