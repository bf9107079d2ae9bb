"""The `kompas` command: run the platform, migrate, create portals, run tests and benchmarks."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent.parent


def _set_default_environment(kompas_env: str) -> None:
    os.environ.setdefault("KOMPAS_ENV", kompas_env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kompas.settings")


def _data_dir() -> Path:
    if os.environ.get("KOMPAS_DATA_DIR"):
        return Path(os.environ["KOMPAS_DATA_DIR"])
    import platformdirs

    return Path(platformdirs.user_data_dir("kompas", appauthor=False))


def start_embedded_database_if_needed():
    """Start the embedded PostgreSQL when DATABASE_URL is not set; returns it, or None."""
    if os.environ.get("DATABASE_URL"):
        return None
    from kompas.embedded import EmbeddedPostgres

    embedded = EmbeddedPostgres(_data_dir())
    os.environ["DATABASE_URL"] = embedded.start()
    return embedded


def _setup_django() -> None:
    import django

    django.setup()


def migrate_all(verbosity: int = 1) -> None:
    """Shared (public) schema, the public tenant, then every portal schema."""
    from django.core.management import call_command

    from tenants.services import ensure_public_tenant

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
    ensure_public_tenant()
    call_command("migrate_schemas", tenant=True, interactive=False, verbosity=verbosity)
    from tenants import pool

    pool.refresh_stale(pool.migration_fingerprint())  # waiting schemas follow every deploy


def _on_sigterm_exit() -> None:
    def _exit(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _exit)


# --- commands ---------------------------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    """Web app + in-process job worker, with embedded PostgreSQL when nothing is configured."""
    _set_default_environment("development")
    _on_sigterm_exit()
    embedded = start_embedded_database_if_needed()
    worker = scheduler = None
    try:
        _setup_django()
        from django.conf import settings

        migrate_all(verbosity=0)
        login = None
        if not args.no_demo:
            from kompas.demo import ensure_demo_portal

            login = ensure_demo_portal()
        worker = _start_inprocess_worker()
        scheduler = _start_inprocess_scheduler()
        server = _bind_web_server(host=args.host, port=args.port, threads=args.threads)
        _print_banner(port=args.port, login=login, embedded=embedded is not None,
                      broker="Redis" if settings.REDIS_URL else "in-process")
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        if worker is not None:
            worker.stop(timeout=5000)
        if embedded is not None:
            embedded.stop()
        print("kompas: stopped.", flush=True)
    return 0


def _start_inprocess_worker():
    import dramatiq
    from django.utils.module_loading import autodiscover_modules
    from dramatiq import Worker

    autodiscover_modules("jobs")
    worker = Worker(dramatiq.get_broker(), worker_threads=2, worker_timeout=250)
    worker.start()
    return worker


def _start_inprocess_scheduler():
    from kompas.scheduler import build_scheduler

    scheduler = build_scheduler(blocking=False)
    scheduler.start()
    return scheduler


def _bind_web_server(*, host: str, port: int, threads: int):
    """Bind the port before saying we are running, so the printed URL answers at once."""
    from waitress import create_server

    from kompas.wsgi import application

    return create_server(application, host=host, port=port, threads=threads, ident="kompas")


def _print_banner(*, port: int, login, embedded: bool, broker: str) -> None:
    from django.conf import settings

    suffix = "" if port == 80 else f":{port}"
    lines = [
        "",
        "Kompas is running.",
        f"  Public site : http://{settings.BASE_DOMAIN}{suffix}/",
    ]
    if login is not None:
        lines += [
            f"  Demo portal : http://demo.{settings.BASE_DOMAIN}{suffix}/",
            f"  Log in as   : {login.email}",
            f"  Password    : {login.password}",
        ]
    database = f"embedded PostgreSQL, data in {_data_dir() / 'postgres'}" if embedded else "DATABASE_URL"
    lines += [
        f"  Database    : {database}",
        f"  Jobs        : {broker} broker, in-process worker",
        "Press Ctrl-C to stop.",
        "",
    ]
    print("\n".join(lines), flush=True)


def cmd_web(args: argparse.Namespace) -> int:
    """Production web server (gunicorn); migrations run separately (`kompas migrate`)."""
    _set_default_environment("production")
    port = os.environ.get("PORT", "8000")
    os.execvp(sys.executable, [sys.executable, "-m", "gunicorn", "kompas.wsgi:application",
                               "--bind", f"0.0.0.0:{port}", "--workers", str(args.workers),
                               "--threads", str(args.threads), "--access-logfile", "-"])
    return 0  # pragma: no cover


def cmd_worker(args: argparse.Namespace) -> int:
    """Production job worker consuming from the configured broker."""
    _set_default_environment("production")
    _setup_django()
    from django.core.management import call_command

    call_command("rundramatiq", processes=args.processes, threads=args.threads)
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    """Production scheduler: enqueues periodic jobs; run exactly one."""
    _set_default_environment("production")
    _setup_django()
    from kompas.scheduler import build_scheduler

    build_scheduler(blocking=True).start()
    return 0


def _with_database(kompas_env_default: str, body: Callable[[], int]) -> int:
    _set_default_environment(kompas_env_default if os.environ.get("DATABASE_URL") else "development")
    embedded = start_embedded_database_if_needed()
    try:
        _setup_django()
        return body()
    finally:
        if embedded is not None:
            embedded.stop()


def cmd_migrate(args: argparse.Namespace) -> int:
    return _with_database("production", lambda: migrate_all(verbosity=args.verbosity) or 0)


def cmd_create_tenant(args: argparse.Namespace) -> int:
    def body() -> int:
        from django.core.exceptions import ValidationError

        from kompas.provisioning import create_portal
        from tenants.selectors import portal_url

        try:
            portal = create_portal(name=args.name, slug=args.slug, owner_email=args.owner_email,
                                   owner_password=args.owner_password, owner_name=args.owner_name or "")
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                for message in messages:
                    print(f"kompas: {field}: {message}", file=sys.stderr)
            return 2
        print(f"Created portal {portal.tenant.name} at {portal_url(portal.tenant)} "
              f"(schema {portal.tenant.schema_name}); owner {portal.owner.email}")
        return 0

    return _with_database("production", body)


def cmd_test(args: argparse.Namespace) -> int:
    """The whole test suite (pytest); starts embedded PostgreSQL when DATABASE_URL is unset."""
    _set_default_environment("test")
    return subprocess.call([sys.executable, "-m", "pytest", *args.pytest_args], cwd=REPO_DIR)


def cmd_bench(args: argparse.Namespace) -> int:
    script = REPO_DIR / "bench" / f"{args.name}.py"
    if not script.exists():
        available = sorted(p.stem for p in (REPO_DIR / "bench").glob("*.py") if not p.stem.startswith("_"))
        print(f"kompas: no benchmark named {args.name!r}; available: {', '.join(available)}", file=sys.stderr)
        return 2
    os.environ.setdefault("KOMPAS_ENV", "test")
    return subprocess.call([sys.executable, str(script), *args.bench_args], cwd=REPO_DIR)


def cmd_manage(args: argparse.Namespace) -> int:
    def body() -> int:
        from django.core.management import execute_from_command_line

        execute_from_command_line(["kompas manage", *args.manage_args])
        return 0

    return _with_database("production", body)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kompas", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the platform (web + jobs), embedded defaults when unconfigured")
    run.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    run.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    run.add_argument("--threads", type=int, default=8)
    run.add_argument("--no-demo", action="store_true", help="do not create the demo portal")
    run.set_defaults(func=cmd_run)

    web = sub.add_parser("web", help="production web server (gunicorn)")
    web.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "2")))
    web.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", "4")))
    web.set_defaults(func=cmd_web)

    worker = sub.add_parser("worker", help="production job worker")
    worker.add_argument("--processes", type=int, default=int(os.environ.get("WORKER_PROCESSES", "2")))
    worker.add_argument("--threads", type=int, default=int(os.environ.get("WORKER_THREADS", "4")))
    worker.set_defaults(func=cmd_worker)

    scheduler = sub.add_parser("scheduler", help="production scheduler of periodic jobs (run one)")
    scheduler.set_defaults(func=cmd_scheduler)

    migrate = sub.add_parser("migrate", help="migrate the public schema and every portal schema")
    migrate.add_argument("-v", "--verbosity", type=int, default=1)
    migrate.set_defaults(func=cmd_migrate)

    create = sub.add_parser("create-tenant", help="create a portal with its owner")
    create.add_argument("--name", required=True, help="company or portal name")
    create.add_argument("--slug", required=True, help="portal address, e.g. acme for acme.<BASE_DOMAIN>")
    create.add_argument("--owner-email", required=True)
    create.add_argument("--owner-password", default=None, help="only used when the account is new")
    create.add_argument("--owner-name", default="")
    create.set_defaults(func=cmd_create_tenant)

    test = sub.add_parser("test", help="run the whole test suite")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test.set_defaults(func=cmd_test)

    bench = sub.add_parser("bench", help="run a benchmark from bench/")
    bench.add_argument("name")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    bench.set_defaults(func=cmd_bench)

    manage = sub.add_parser("manage", help="any Django management command")
    manage.add_argument("manage_args", nargs=argparse.REMAINDER)
    manage.set_defaults(func=cmd_manage)
    return parser


# Commands whose arguments belong to another program: handed over untouched, options first or not
# (argparse's REMAINDER refuses ``kompas test -m "not browser" tests/``).
PASS_THROUGH = {"test": "pytest_args", "manage": "manage_args"}


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    if argv and argv[0] in PASS_THROUGH:
        args = build_parser().parse_args(argv[:1])
        setattr(args, PASS_THROUGH[argv[0]], list(argv[1:]))
        return args
    return build_parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(sys.argv[1:] if argv is None else argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
