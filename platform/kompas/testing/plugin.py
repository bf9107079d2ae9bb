"""pytest plugin loaded with ``-p kompas.testing.plugin`` (see pyproject.toml).

It prepares the environment *at import*, because pytest-django sets Django up right after
the plugins are imported: tests get KOMPAS_ENV=test, their own cache prefix and broker
namespace, and an embedded PostgreSQL when DATABASE_URL is not set.
"""

from __future__ import annotations

import os
import uuid

from kompas.cli import start_embedded_database_if_needed

os.environ.setdefault("KOMPAS_ENV", "test")
os.environ.setdefault("BASE_DOMAIN", "kompas.test")
_RUN_ID = uuid.uuid4().hex[:8]
os.environ.setdefault("CACHE_KEY_PREFIX", f"kompas-test-{_RUN_ID}")
os.environ.setdefault("DRAMATIQ_NAMESPACE", f"kompas-test-{_RUN_ID}")
# A test database of its own per run, so two runs against one server never collide.
os.environ.setdefault("TEST_DATABASE_NAME", f"test_kompas_{_RUN_ID}")
_embedded = start_embedded_database_if_needed()

pytest_plugins = ["kompas.testing.fixtures"]


def pytest_unconfigure(config) -> None:
    if _embedded is not None:
        _embedded.stop()
