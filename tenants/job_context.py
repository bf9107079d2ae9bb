"""Tenant context for dramatiq jobs.

The schema active when a message is enqueued is stamped on the message; the worker activates
it before the actor runs and always goes back to ``public`` afterwards — after success,
failure, retry and skip — so a worker thread never carries one portal's schema into the next
message (the bug tenant-schemas-celery and django-multitenant users hit, see
../shared/anchors/anchors_platform.md §3.3).

Actors are tenant jobs by default. A control-plane job (one that works across portals or on
the public schema only) declares ``control_plane=True`` and always runs in ``public``.
Enqueuing a tenant job from the public schema is a programming error and raises at once,
rather than letting the job run against the wrong data.

This middleware must be listed *before* Retries, Pipelines and Callbacks: dramatiq runs the
``after_*`` hooks in reverse order, so ours runs last and those middlewares still see the
tenant when they enqueue follow-up messages.
"""

from __future__ import annotations

import structlog
from django.db import connection
from dramatiq import Broker, Message
from dramatiq.middleware import Middleware, MiddlewareError, SkipMessage

from tenants.context import bind_tenant, unbind_tenant

TENANT_OPTION = "tenant_schema"
CONTROL_PLANE_OPTION = "control_plane"
PUBLIC = "public"

log = structlog.get_logger(__name__)


class TenantMissingError(MiddlewareError):
    """A tenant job was enqueued while no portal was active.

    A MiddlewareError, because dramatiq only logs other exceptions raised in middleware
    hooks and would enqueue the message anyway.
    """


class TenantActivationError(MiddlewareError):
    """The portal of a message could not be activated; the message fails and is retried
    instead of running with the wrong schema."""


class TenantJobMiddleware(Middleware):
    @property
    def actor_options(self) -> set[str]:
        return {CONTROL_PLANE_OPTION}

    def _is_control_plane(self, broker: Broker, actor_name: str) -> bool:
        return bool(broker.get_actor(actor_name).options.get(CONTROL_PLANE_OPTION, False))

    def before_enqueue(self, broker: Broker, message: Message, delay: int) -> None:
        if self._is_control_plane(broker, message.actor_name):
            message.options[TENANT_OPTION] = PUBLIC
            return
        if message.options.get(TENANT_OPTION):
            return  # a retry or a message built in its tenant keeps the schema it was stamped with
        schema = connection.schema_name
        if schema == PUBLIC:
            raise TenantMissingError(
                f"Job {message.actor_name!r} works on portal data but was enqueued with no portal "
                "active. Enqueue it inside the portal's context (tenant_context), or declare the "
                "actor with control_plane=True if it really is a platform job."
            )
        message.options[TENANT_OPTION] = schema

    def before_process_message(self, broker: Broker, message: Message) -> None:
        try:
            self._activate(broker, message)
        except MiddlewareError:
            raise
        except Exception as error:
            raise TenantActivationError(f"could not activate the portal of {message.message_id}") from error

    def _activate(self, broker: Broker, message: Message) -> None:
        connection.set_schema_to_public()  # never trust what the previous message left behind
        schema = message.options.get(TENANT_OPTION) or PUBLIC
        if schema == PUBLIC:
            if not self._is_control_plane(broker, message.actor_name):
                log.error("job.skipped_without_tenant", actor=message.actor_name, message_id=message.message_id)
                raise SkipMessage("tenant job without a tenant")
            bind_tenant(PUBLIC, job=message.actor_name)
            return
        from tenants.models import Tenant  # the broker is built before Django's models are ready

        tenant = Tenant.objects.filter(schema_name=schema).first()
        if tenant is None:
            log.warning("job.skipped_tenant_gone", actor=message.actor_name, tenant=schema)
            raise SkipMessage(f"tenant {schema} no longer exists")
        connection.set_tenant(tenant)
        bind_tenant(schema, job=message.actor_name)

    def after_process_message(self, broker: Broker, message: Message, *, result=None, exception=None) -> None:
        self._reset()

    def after_skip_message(self, broker: Broker, message: Message) -> None:
        self._reset()

    def _reset(self) -> None:
        connection.set_schema_to_public()
        unbind_tenant()
