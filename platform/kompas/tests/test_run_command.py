"""`kompas run` on a machine with nothing configured: embedded PostgreSQL, demo portal, clean stop."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(data_dir: Path, port: int) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "KOMPAS_ENV", "BASE_DOMAIN", "DJANGO_SETTINGS_MODULE",
                        "CACHE_KEY_PREFIX", "DRAMATIQ_NAMESPACE"}}
    env.update(KOMPAS_DATA_DIR=str(data_dir), PORT=str(port))
    process = subprocess.Popen([sys.executable, "-m", "kompas.cli", "run"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    output, deadline = "", time.monotonic() + 120
    while "Press Ctrl-C to stop." not in output:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise AssertionError(f"kompas run exited early:\n{output}")
        output += line
        assert time.monotonic() < deadline, output
    return process, output


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=30)
    return rest


class _HostOpener:
    """Talks to 127.0.0.1 while sending the portal's Host header, keeping cookies."""

    def __init__(self, port: int, host: str) -> None:
        self.base, self.host = f"http://127.0.0.1:{port}", f"{host}:{port}"
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(_NoRedirect())

    def request(self, path: str, data: dict | None = None) -> tuple[int, dict, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, headers={
            "Host": self.host, "Accept-Language": "en", "Referer": f"http://{self.host}{path}",
            "Cookie": "; ".join(f"{c.name}={c.value}" for c in self.jar)})
        try:
            response = self.opener.open(request, timeout=10)
        except urllib.error.HTTPError as error:
            response = error
        for header in response.headers.get_all("Set-Cookie") or []:
            name, value = header.split(";", 1)[0].split("=", 1)
            self.jar.set_cookie(http.cookiejar.Cookie(0, name, value, None, False, "", False, False, "/", True,
                                                      False, None, False, None, None, {}))
        return response.status, dict(response.headers), response.read().decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _postgres_processes(data_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(attrs=["cmdline"]):
        if any(str(data_dir) in part for part in process.info["cmdline"] or []):
            found.append(process)
    return found


def test_run_serves_the_demo_portal_and_stops_without_leaving_postgres(tmp_path):
    data_dir, port = tmp_path / "kompas-data", _free_port()
    data_dir.mkdir()
    process, banner = _start(data_dir, port)
    try:
        assert f"Demo portal : http://demo.localhost:{port}/" in banner
        email = re.search(r"Log in as\s+: (\S+)", banner).group(1)
        password = re.search(r"Password\s+: (\S+)", banner).group(1)

        browser = _HostOpener(port, "demo.localhost")
        status, headers, _ = browser.request("/")
        assert status == 302 and headers["Location"].startswith("/auth/login/")
        status, _, page = browser.request("/auth/login/")
        assert status == 200 and "Demo Sp. z o.o." in page
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        status, headers, _ = browser.request("/auth/login/", {"csrfmiddlewaretoken": token, "username": email,
                                                              "password": password, "next": "/"})
        assert status == 302, "the printed login must work"
        status, _, home = browser.request("/")
        assert status == 200 and email in home

        assert _HostOpener(port, "nieznany.localhost").request("/")[0] == 404
    finally:
        output = _stop(process)
    assert process.returncode == 0, output
    assert "kompas: stopped." in output
    time.sleep(0.5)
    assert _postgres_processes(data_dir) == []

    # A second start reuses the data: same demo login, nothing created again.
    process, banner = _start(data_dir, port)
    try:
        assert f"Password    : {password}" in banner
        assert "tenant.created" not in banner
    finally:
        _stop(process)
    time.sleep(0.5)
    assert _postgres_processes(data_dir) == []
