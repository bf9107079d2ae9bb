"""Probes answer on any host, before tenant routing, and say what is not ready."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_liveness_answers_on_any_host():
    response = Client(HTTP_HOST="10.1.2.3:8000").get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_checks_database_and_broker():
    response = Client(HTTP_HOST="10.1.2.3").get("/readyz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"]["ok"] is True
    assert checks["broker"]["ok"] is True


def test_readiness_is_503_and_names_the_failing_check(monkeypatch):
    from kompas import health

    def broken_database():
        raise ConnectionError("connection refused")

    monkeypatch.setattr(health, "check_database", broken_database)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "error": "ConnectionError: connection refused"}
