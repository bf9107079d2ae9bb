"""Every periodic job is registered once, on a valid schedule, and enqueues its actor."""

import dramatiq

from kompas.scheduler import _enqueue, build_scheduler, periodic_jobs


def test_billing_jobs_are_scheduled():
    names = {actor.actor_name for actor, _cron in periodic_jobs()}
    assert {"enforce_dunning", "end_expired_trials", "retry_stuck_stripe_events", "reconcile_with_stripe",
            "apply_scheduled_plan_changes"} <= names


def test_scheduler_has_one_job_per_actor_with_a_next_run():
    scheduler = build_scheduler(blocking=False)
    scheduler.start(paused=True)
    try:
        jobs = scheduler.get_jobs()
        assert len(jobs) == len({job.id for job in jobs}) == len(periodic_jobs())
        assert all(job.next_run_time is not None for job in jobs)
    finally:
        scheduler.shutdown(wait=False)


class _Enqueued(dramatiq.Middleware):
    """Sees every message the broker accepts, whoever consumes it afterwards (another test's worker)."""

    def __init__(self) -> None:
        self.messages: list = []

    def after_enqueue(self, broker, message, delay) -> None:
        self.messages.append(message)


def test_a_scheduled_run_enqueues_a_control_plane_message():
    from billing.jobs import enforce_dunning

    broker = enforce_dunning.broker  # the one `send` uses
    seen = _Enqueued()
    broker.middleware.append(seen)
    try:
        _enqueue(enforce_dunning)
    finally:
        broker.middleware.remove(seen)
        broker.flush(enforce_dunning.queue_name)
    [message] = [message for message in seen.messages if message.actor_name == "enforce_dunning"]
    assert message.queue_name == enforce_dunning.queue_name
    assert message.options["tenant_schema"] == "public"
