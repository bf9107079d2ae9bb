"""A real Caddy (Debian's package) with its internal CA and on-demand TLS, asking the app.

The app runs in a thread as a real WSGI server over the test database; the domains it must
see are committed (and removed afterwards). A TLS handshake with the SNI of a verified custom
domain gets a certificate for exactly that name, signed by Caddy's local CA, and the page
behind it is the portal's; an unverified domain and an unknown name get no certificate.
Skipped where caddy is not installed (`apt-get install caddy`).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections
from django.utils import timezone

from kompas.testing.fixtures import in_own_connection
from tenants.models import AuditEvent, Domain

CADDY = shutil.which("caddy")
VERIFIED, PENDING = "crm.caddy-alfa.pl", "czeka.caddy-alfa.pl"

pytestmark = [pytest.mark.slow, pytest.mark.django_db,
              pytest.mark.skipif(CADDY is None, reason="Debian's caddy is not installed")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


class _ThreadedWSGIServer(WSGIServer):
    daemon_threads = True

    def process_request(self, request, client_address):  # one thread per request, like a real server
        def serve():
            try:
                self.finish_request(request, client_address)
            finally:
                self.shutdown_request(request)
                connections.close_all()

        threading.Thread(target=serve, daemon=True).start()


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"caddy exited: {process.stderr.read().decode(errors='replace')[-2000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("caddy did not open its HTTPS port")


def _handshake(port: int, server_name: str, cafile: Path) -> dict:
    context = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw, \
            context.wrap_socket(raw, server_hostname=server_name) as tls:
        return tls.getpeercert()


def _get(port: int, server_name: str, path: str, cafile: Path) -> tuple[int, str]:
    context = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw, \
            context.wrap_socket(raw, server_hostname=server_name) as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {server_name}\r\nAccept-Language: en\r\n"
                    "Connection: close\r\n\r\n".encode())
        chunks = []
        while chunk := tls.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode(errors="replace")


@pytest.fixture
def committed_domains(portal_a):
    def create():
        Domain.objects.create(domain=VERIFIED, tenant=portal_a.tenant, is_primary=False, is_custom=True,
                              verification_token="kompas-caddy", verified_at=timezone.now())
        Domain.objects.create(domain=PENDING, tenant=portal_a.tenant, is_primary=False, is_custom=True,
                              verification_token="kompas-caddy-2")

    def remove():
        Domain.objects.filter(domain__in=[VERIFIED, PENDING]).delete()
        AuditEvent.objects.filter(details__domain__in=[VERIFIED, PENDING]).delete()

    in_own_connection(create)
    try:
        yield
    finally:
        in_own_connection(remove)


@pytest.fixture
def app_server(committed_domains):
    server = make_server("127.0.0.1", 0, WSGIHandler(), server_class=_ThreadedWSGIServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_caddy_issues_certificates_only_for_what_the_app_allows(app_server, portal_a, tmp_path):
    https_port, http_port = _free_port(), _free_port()
    (tmp_path / "Caddyfile").write_text(f"""{{
	admin off
	skip_install_trust
	http_port {http_port}
	https_port {https_port}
	storage file_system {{
		root {tmp_path / "data"}
	}}
	on_demand_tls {{
		ask http://127.0.0.1:{app_server}/internal/tls/ask
	}}
}}

https:// {{
	tls internal {{
		on_demand
	}}
	respond /internal/* 404
	reverse_proxy 127.0.0.1:{app_server}
}}
""")
    process = subprocess.Popen([CADDY, "run", "--config", str(tmp_path / "Caddyfile"), "--adapter", "caddyfile"],
                               cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "xdg"),
                                    "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "PATH": "/usr/bin:/bin"})
    try:
        _wait_for_port(https_port, process)
        root = tmp_path / "data" / "pki" / "authorities" / "local" / "root.crt"
        certificate = _handshake(https_port, VERIFIED, root)  # also checks the chain and the host name
        names = {value for kind, value in certificate["subjectAltName"] if kind == "DNS"}
        assert names == {VERIFIED}
        status, body = _get(https_port, VERIFIED, "/auth/login/", root)
        assert status == 200 and portal_a.tenant.name in body
        assert _get(https_port, VERIFIED, f"/internal/tls/ask?domain={VERIFIED}", root)[0] == 404
        for refused in (PENDING, "nieznana.example.pl"):
            with pytest.raises((ssl.SSLError, ConnectionResetError)):
                _handshake(https_port, refused, root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
