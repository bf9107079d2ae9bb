"""Every periodic job is registered once, on a valid schedule, and enqueues its actor."""

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


def test_a_scheduled_run_enqueues_a_control_plane_message():
    from billing.jobs import enforce_dunning

    # The actor's own broker: the one `send` uses, even if a test has since set another default.
    broker = enforce_dunning.broker
    broker.flush(enforce_dunning.queue_name)
    _enqueue(enforce_dunning)
    consumer = broker.consume(enforce_dunning.queue_name, timeout=2000)
    try:
        message = next(consumer)
        assert message.actor_name == "enforce_dunning"
        assert message.options["tenant_schema"] == "public"
        consumer.ack(message)
    finally:
        consumer.close()
        broker.flush(enforce_dunning.queue_name)
