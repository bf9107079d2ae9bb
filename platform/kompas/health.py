"""Liveness and readiness probes, answered before tenant routing.

Probes come from the orchestrator with whatever Host header it likes (often a pod IP), so
they must not depend on a portal being found. ``/healthz`` says the process serves requests;
``/readyz`` also checks the database and the job broker and answers 503 when either fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import dramatiq
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse


def check_database() -> dict:
    started = time.perf_counter()
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}


def check_broker() -> dict:
    broker = dramatiq.get_broker()
    kind = type(broker).__name__
    started = time.perf_counter()
    client = getattr(broker, "client", None)  # RedisBroker exposes its redis client
    if client is not None:
        client.ping()
    elif kind == "RabbitmqBroker":
        broker.connection  # noqa: B018  (opening the connection is the check)
    return {"ok": True, "broker": kind, "ms": round((time.perf_counter() - started) * 1000, 2)}


def readiness() -> tuple[bool, dict]:
    report: dict[str, dict] = {}
    for name, check in (("database", check_database), ("broker", check_broker)):
        try:
            report[name] = check()
        except Exception as error:  # any failure means "not ready", and says why
            report[name] = {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}
    return all(part["ok"] for part in report.values()), report


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return JsonResponse({"status": "ok"})
        if request.path == "/readyz":
            ready, report = readiness()
            return JsonResponse({"status": "ready" if ready else "not ready", "checks": report},
                                status=200 if ready else 503)
        return self.get_response(request)
