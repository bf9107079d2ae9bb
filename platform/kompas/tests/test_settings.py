"""Settings come from the environment with production-safe defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from kompas.observability import configure_sentry, scrub_personal_data

PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'debug': s.DEBUG, 'secure_cookie': getattr(s, 'SESSION_COOKIE_SECURE', False), "
    "'hsts': getattr(s, 'SECURE_HSTS_SECONDS', 0), 'cookie_domain': s.SESSION_COOKIE_DOMAIN, "
    "'ssl_header': getattr(s, 'SECURE_PROXY_SSL_HEADER', None)}))"
)


def _settings_in(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"KOMPAS_ENV", "SECRET_KEY", "DEBUG", "USE_TLS"}}
    return subprocess.run([sys.executable, "-c", PROBE], env={**base, "DJANGO_SETTINGS_MODULE": "kompas.settings",
                                                              **env}, capture_output=True, text=True)


def test_production_refuses_to_start_without_a_secret_key():
    result = _settings_in({"KOMPAS_ENV": "production"})
    assert result.returncode != 0
    assert "Refusing to start in production without a real SECRET_KEY" in result.stderr


def test_production_refuses_the_public_development_key():
    from django.conf import settings

    result = _settings_in({"KOMPAS_ENV": "production", "SECRET_KEY": settings.DEV_SECRET_KEY})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_defaults_are_safe():
    result = _settings_in({"KOMPAS_ENV": "production", "SECRET_KEY": "x" * 50,
                           "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {"debug": False, "secure_cookie": True, "hsts": 31536000, "cookie_domain": None,
                      "ssl_header": ["HTTP_X_FORWARDED_PROTO", "https"]}


def test_production_refuses_to_start_without_redis():
    result = _settings_in({"KOMPAS_ENV": "production", "SECRET_KEY": "x" * 50, "REDIS_URL": ""})
    assert result.returncode != 0
    assert "without REDIS_URL" in result.stderr


def test_only_the_development_environment_turns_debug_on():
    development = json.loads(_settings_in({"KOMPAS_ENV": "development"}).stdout.strip().splitlines()[-1])
    assert development["debug"] is True
    assert development["secure_cookie"] is False


def test_a_typo_in_a_boolean_variable_names_the_variable():
    result = _settings_in({"KOMPAS_ENV": "test", "USE_TLS": "maybe"})
    assert result.returncode != 0
    assert "USE_TLS must be true or false" in result.stderr


def test_sentry_is_not_initialised_without_a_dsn():
    import sentry_sdk

    assert configure_sentry(dsn="", environment="test", traces_sample_rate=0) is False
    assert sentry_sdk.get_client().is_active() is False


def test_sentry_scrubber_masks_personal_data_in_free_text():
    event = {"message": "Nie wysłano do jan.kowalski@firma.pl, tel. +48 601 234 567",
             "extra": {"note": ["kontakt: anna@example.com"]}}
    scrubbed = scrub_personal_data(event, {})
    assert "jan.kowalski@firma.pl" not in json.dumps(scrubbed)
    assert "601 234 567" not in json.dumps(scrubbed)
    assert "anna@example.com" not in json.dumps(scrubbed)
