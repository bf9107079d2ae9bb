"""Log lines and Sentry events of a request carry its tenant."""

import pytest
import structlog
from django.test import RequestFactory

from tenants.context import RequestContextMiddleware

pytestmark = pytest.mark.django_db


def test_request_context_binds_the_tenant_for_the_request_only(portal_a):
    seen = {}

    def view(request):
        seen.update(structlog.contextvars.get_contextvars())
        import sentry_sdk

        seen["sentry_tag"] = sentry_sdk.get_isolation_scope()._tags.get("tenant")
        from django.http import HttpResponse

        return HttpResponse("ok")

    request = RequestFactory().get("/", HTTP_HOST=portal_a.host)
    request.tenant = portal_a.tenant
    RequestContextMiddleware(view)(request)

    assert seen["tenant"] == portal_a.tenant.schema_name
    assert seen["host"] == portal_a.host
    assert seen["sentry_tag"] == portal_a.tenant.schema_name
    assert "tenant" not in structlog.contextvars.get_contextvars()


def test_log_lines_render_the_tenant(portal_a):
    import io
    import logging

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.getLogger().handlers[0].formatter)  # the configured structured formatter
    logger = logging.getLogger("kompas.test")
    logger.addHandler(handler)
    structlog.contextvars.bind_contextvars(tenant=portal_a.tenant.schema_name)
    try:
        logger.warning("zapisano kontakt")
    finally:
        structlog.contextvars.unbind_contextvars("tenant")
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert "zapisano kontakt" in line
    assert f"tenant={portal_a.tenant.schema_name}" in line or f'"tenant": "{portal_a.tenant.schema_name}"' in line
