"""One `kompas run` (embedded PostgreSQL, demo portal, in-process jobs) for every browser test.

Starting it costs about half a minute (initdb, migrations, the demo portal), so the browser tests
share one server; each creates its own portals and addresses, so they do not see each other's
data. Its e-mail goes over SMTP to a real server on loopback whose inbox is emptied per test.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from kompas.testing.fixtures import SmtpInbox, start_smtp_server
from kompas.tests.test_run_command import _free_port, _start


@dataclass
class KompasServer:
    port: int
    banner: str
    inbox: SmtpInbox
    output: list[str] = field(default_factory=list)

    @property
    def public(self) -> str:
        return f"http://localhost:{self.port}"


@pytest.fixture(scope="session")
def _kompas_server(tmp_path_factory) -> Iterator[KompasServer]:
    controller, inbox = start_smtp_server()
    data_dir = tmp_path_factory.mktemp("kompas-run") / "data"
    data_dir.mkdir()
    wanted = {"EMAIL_HOST": inbox.host, "EMAIL_PORT": str(inbox.port), "EMAIL_USE_TLS": "false"}
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)  # `kompas run` inherits them
    port = _free_port()
    try:
        process, banner = _start(data_dir, port)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    server = KompasServer(port=port, banner=banner, inbox=inbox)

    def drain() -> None:  # nobody reads the pipe otherwise, and a full pipe would stall the server
        for line in process.stdout:
            server.output.append(line)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        yield server
    finally:
        process.terminate()  # SIGTERM: kompas run stops its embedded PostgreSQL too
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        controller.stop()


@pytest.fixture
def kompas_server(_kompas_server) -> KompasServer:
    """The shared server, with an empty inbox."""
    _kompas_server.inbox.messages.clear()
    return _kompas_server
