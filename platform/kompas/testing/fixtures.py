"""Shared fixtures: two real portals created once per test session, and clients for them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client

PASSWORD = "Zażółć-gęślą-jaźń-42"


@dataclass(frozen=True)
class PortalFixture:
    tenant: object
    owner: object
    host: str
    password: str = PASSWORD

    def client(self, *, logged_in: bool = False) -> Client:
        client = Client(HTTP_HOST=self.host)
        if logged_in:
            from django_tenants.utils import tenant_context

            # Sessions live in the portal's schema, and only its members may sign in there.
            with tenant_context(self.tenant):
                assert client.login(username=self.owner.email, password=self.password)
        return client


def _make_portal(name: str, slug: str, owner_email: str, owner_name: str) -> PortalFixture:
    from django.conf import settings

    from kompas.provisioning import create_portal

    portal = create_portal(name=name, slug=slug, owner_email=owner_email, owner_password=PASSWORD,
                           owner_name=owner_name)
    return PortalFixture(tenant=portal.tenant, owner=portal.owner, host=f"{slug}.{settings.BASE_DOMAIN}")


@pytest.fixture(scope="session")
def portals(django_db_setup, django_db_blocker) -> Iterator[dict[str, PortalFixture]]:
    """Portal A (Alfa) and portal B (Beta): created once, shared by every test of the session."""
    from tenants.services import ensure_public_tenant

    with django_db_blocker.unblock():
        # pytest-django creates the test database only when a selected test is marked
        # django_db; never let the portals land in a real database instead.
        assert connection.settings_dict["NAME"].startswith("test_"), (
            "the portals fixture needs a test marked @pytest.mark.django_db")
        ensure_public_tenant()
        # The clone template at today's migrations, as the pool job keeps it in production: built
        # once here, so provisioning tests do not each migrate a template of their own.
        from tenants import pool

        pool.fill(size=0)
        created = {
            "a": _make_portal("Alfa Handel Sp. z o.o.", "alfa", "joanna.kowalska@alfa-handel.pl", "Joanna Kowalska"),
            "b": _make_portal("Beta Serwis S.A.", "beta", "marek.zielinski@beta-serwis.pl", "Marek Zieliński"),
        }
        connection.set_schema_to_public()
    yield created


def in_own_connection(function, *args, **kwargs):
    """Run ``function`` in a thread with its own autocommitted connection and return its result.

    For tests whose data other threads must see: the test's own connection sits inside
    pytest-django's rolled-back transaction, this one commits (so clean up after yourself).
    """
    import threading

    from django.db import connections

    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as error:  # handed back to the caller below
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@contextmanager
def _restored_after_the_test(portal: PortalFixture) -> Iterator[PortalFixture]:
    """The portals live for the whole run but each test's writes are rolled back: put the shared
    Tenant instance back as well, so a test that changed its language or status in memory does
    not leak into the next one."""
    saved = {field.attname: getattr(portal.tenant, field.attname) for field in portal.tenant._meta.concrete_fields}
    try:
        yield portal
    finally:
        for name, value in saved.items():
            setattr(portal.tenant, name, value)


@pytest.fixture
def portal_a(portals, db) -> Iterator[PortalFixture]:
    with _restored_after_the_test(portals["a"]) as portal:
        yield portal


@pytest.fixture
def portal_b(portals, db) -> Iterator[PortalFixture]:
    with _restored_after_the_test(portals["b"]) as portal:
        yield portal


def _clear_this_runs_keys(cache) -> None:
    """``clear()`` on Redis is FLUSHDB: it would also wipe the keys of another test run (or a dev
    server) sharing the Redis database, so delete only the keys under this cache's own prefix."""
    if type(cache).__name__ != "RedisCache":
        cache.clear()
        return
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{cache.key_prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _public_schema_and_clean_cache() -> Iterator[None]:
    """Every test starts on the public schema with an empty routing cache."""
    from tenants.routing import local_hosts

    _clear_this_runs_keys(caches["routing"])
    local_hosts.clear()
    yield
    connection.set_schema_to_public()


@dataclass
class SmtpInbox:
    host: str
    port: int
    messages: list

    def wait_for(self, count: int, timeout: float = 5.0) -> list:
        import time

        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages


def start_smtp_server():
    """A real SMTP server on loopback (aiosmtpd); returns its controller (``.stop()``) and inbox."""
    import email
    import email.policy
    import socket

    from aiosmtpd.controller import Controller

    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(email.message_from_bytes(envelope.original_content or envelope.content,
                                                     policy=email.policy.default))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, SmtpInbox("127.0.0.1", port, received)


@pytest.fixture
def smtp_inbox(settings) -> Iterator[SmtpInbox]:
    """A real SMTP server on loopback; Django sends to it over SMTP."""
    controller, inbox = start_smtp_server()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = inbox.host, inbox.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield inbox
    finally:
        controller.stop()


def verify_two_factor(client: Client, user) -> None:
    """Mark ``client``'s session as confirmed with a TOTP code, as the staff sign-in does (django-otp)."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="Kompas", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
