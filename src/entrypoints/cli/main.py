"""``ninefold``: serve, worker, db, openapi, seed-demo, staff, jobs, config."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from entrypoints.cli.audit import act_as_operator, add_audit_parser
from entrypoints.cli.billing import add_billing_parser
from entrypoints.cli.breakers import add_breakers_parser
from entrypoints.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_OK,
    DatabaseError,
    settings_for_command,
    with_container,
)
from entrypoints.cli.flags import add_flags_parser
from entrypoints.cli.jobs import add_jobs_parser, positive_int, queue_list
from entrypoints.cli.kill_switches import add_kill_switch_parser
from entrypoints.cli.mail import add_mail_parser
from entrypoints.cli.notifications import add_notifications_parser
from entrypoints.cli.staff import add_staff_parser

# Heavy modules (SQLAlchemy, Litestar, the containers) are imported inside the commands
# that need them, so `ninefold --help` and usage errors answer at once.
from entrypoints.logging import configure_logging, granian_log_config
from entrypoints.settings import ConfigurationError, effective_configuration

if TYPE_CHECKING:
    from entrypoints.containers import ApplicationContainer

DEFAULT_OPENAPI_PATH = Path("contracts/openapi.json")


async def _prepare(args: argparse.Namespace, container: ApplicationContainer) -> int:
    """What ``serve --migrate --seed-demo`` does before serving, in one process."""
    from adapters.sql.migrations import runner
    from entrypoints.seed import seed_demo

    if args.migrate:
        logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)
        await runner.upgrade(container.database.engine())
    return await seed_demo(container) if args.seed_demo else EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve HTTP with granian; the worker and scheduler run in the app process."""
    from granian import Granian
    from granian.constants import Interfaces

    overrides = {"host": args.host, "port": args.port, "http_workers": args.workers}
    for name, value in overrides.items():
        if value is not None:
            os.environ["NINEFOLD_" + name.upper()] = str(value)
    if args.no_worker:
        os.environ["NINEFOLD_RUN_WORKER"] = "false"
    settings = settings_for_command()  # fail here, with the full list, not inside a worker process
    configure_logging(settings)
    if args.migrate or args.seed_demo:
        code = asyncio.run(with_container(settings, partial(_prepare, args)))
        if code != EXIT_OK:
            return code
    # Import the app's modules before granian forks its workers, so that each worker
    # starts from them instead of importing them again (about a second each).
    import entrypoints.http.asgi  # noqa: F401

    print(f"ninefold serving on http://{settings.host}:{settings.port}", file=sys.stderr)
    Granian(
        "entrypoints.http.asgi:create",
        factory=True,
        address=settings.host,
        port=settings.port,
        workers=settings.http_workers,
        interface=Interfaces.ASGI,
        log_enabled=True,
        log_level=settings.log_level,  # type: ignore[arg-type]
        log_dictconfig=granian_log_config(settings),
        log_access=False,  # the app writes its own access log, with the request id
    ).serve()
    return EXIT_OK


def cmd_worker(args: argparse.Namespace) -> int:
    """Run the outbox relay, the job runner and the scheduler until SIGINT or SIGTERM.
    ``--queues`` and ``--concurrency`` override the settings for this process."""
    from entrypoints.worker import Worker

    settings = settings_for_command()
    configure_logging(settings)
    queues = args.queues if args.queues is not None else settings.queues
    concurrency = args.concurrency or settings.worker_concurrency
    taken = ", ".join(queues) if queues else "every queue"
    print(f"ninefold worker: {taken}, {concurrency} jobs at a time", file=sys.stderr)

    async def run(container: ApplicationContainer) -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        from entrypoints.safety.runtime import SafetyRuntime

        safety = SafetyRuntime(container)  # kill switches pause queues in this process too
        await safety.start()
        try:
            await Worker(container, queues=queues, concurrency=concurrency).run_until_stopped(stop)
        finally:
            await safety.stop()
        return EXIT_OK

    return asyncio.run(with_container(settings, run))


def cmd_db(args: argparse.Namespace) -> int:
    from adapters.sql.migrations import runner

    settings = settings_for_command()
    configure_logging(settings)
    logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)

    async def run(container: ApplicationContainer) -> int:
        engine = container.database.engine()
        if args.db_command == "upgrade":
            await runner.upgrade(engine, args.target)
            print(f"database at: {', '.join(sorted(await runner.current_revisions(engine)))}")
        elif args.db_command == "downgrade":
            await runner.downgrade(engine, args.target)
            current = await runner.current_revisions(engine)
            print(f"database at: {', '.join(sorted(current)) or '(empty)'}")
        else:
            current = await runner.current_revisions(engine)
            pending = runner.script_heads() - current
            print(f"current: {', '.join(sorted(current)) or '(empty)'}")
            print(f"pending heads: {', '.join(sorted(pending)) or 'none'}")
            return EXIT_FAILURE if args.check and pending else EXIT_OK
        return EXIT_OK

    return asyncio.run(with_container(settings, run))


def cmd_openapi(args: argparse.Namespace) -> int:
    """Write the OpenAPI document (or, with --check, fail when the file is stale)."""
    from entrypoints.containers import build_container
    from entrypoints.contracts import render
    from entrypoints.http.app import create_app, openapi_document

    settings = settings_for_command()
    app = create_app(build_container(settings), run_worker=False)
    text = render(openapi_document(app))
    path: Path = args.output
    if args.check:
        if not path.is_file() or path.read_text() != text:
            print(f"{path} is stale: run 'ninefold openapi'", file=sys.stderr)
            return EXIT_FAILURE
        print(f"{path} is current")
        return EXIT_OK
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")
    return EXIT_OK


def cmd_contracts(args: argparse.Namespace) -> int:
    """Write contracts/openapi.json and contracts/events/*.json, or check them."""
    from entrypoints.containers import build_container
    from entrypoints.contracts import event_files, render
    from entrypoints.http.app import create_app, openapi_document

    settings = settings_for_command()
    app = create_app(build_container(settings), run_worker=False)
    folder: Path = args.folder
    expected = {folder / "openapi.json": render(openapi_document(app))}
    expected.update(event_files(folder / "events"))
    stale = [p for p, text in expected.items() if not p.is_file() or p.read_text() != text]
    known = set(expected)
    extra = sorted(p for p in (folder / "events").glob("*.json") if p not in known)
    if args.check:
        for path in [*stale, *extra]:
            print(f"{path} is stale: run 'ninefold contracts'", file=sys.stderr)
        return EXIT_FAILURE if stale or extra else EXIT_OK
    for path in extra:
        path.unlink()
        print(f"removed {path}")
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(expected[path])
        print(f"wrote {path}")
    return EXIT_OK


def cmd_seed_demo(_args: argparse.Namespace) -> int:
    from entrypoints.seed import seed_demo

    settings = settings_for_command()
    configure_logging(settings)
    return asyncio.run(with_container(settings, seed_demo))


def cmd_config_check(_args: argparse.Namespace) -> int:
    settings = settings_for_command()
    width = max(len(name) for name in effective_configuration(settings))
    for name, value in effective_configuration(settings).items():
        print(f"{name:<{width}}  {value}")
    print("configuration is valid", file=sys.stderr)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ninefold",
        description="ninefold: the SaaS starter kit. Settings come from NINEFOLD_* "
        "environment variables and .env (see 'ninefold config check').",
        epilog="Exit codes: 0 success, 1 failure, 2 usage error, 78 configuration error.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve",
        help="serve HTTP, the jobs worker and the scheduler in one process",
        description="Serve the app with granian. Unless --no-worker, each app process also "
        "runs the worker (outbox relay) and the scheduler. Run 'ninefold db upgrade' first.",
    )
    serve.add_argument("--host", help="address to bind (NINEFOLD_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (NINEFOLD_PORT, default 8000)")
    serve.add_argument("--workers", type=int, help="HTTP processes (NINEFOLD_HTTP_WORKERS)")
    serve.add_argument("--no-worker", action="store_true", help="serve HTTP only")
    serve.add_argument(
        "--migrate", action="store_true", help="apply pending migrations first (db upgrade)"
    )
    serve.add_argument(
        "--seed-demo", action="store_true", help="seed the demo first if the database is empty"
    )
    serve.set_defaults(handler=cmd_serve)

    worker = sub.add_parser(
        "worker",
        help="run the worker and scheduler without HTTP",
        description="Deliver outbox events and run scheduled tasks and jobs until "
        "SIGINT/SIGTERM. Any number of workers may share one database; give each the "
        "queues it takes.",
    )
    worker.add_argument(
        "--queues",
        type=queue_list,
        help="comma-separated queues to take jobs from, e.g. default,mail "
        "(overrides NINEFOLD_WORKER_QUEUES; default: every queue)",
    )
    worker.add_argument(
        "--concurrency",
        type=positive_int,
        help="jobs run at once (overrides NINEFOLD_WORKER_CONCURRENCY, default 8)",
    )
    worker.set_defaults(handler=cmd_worker)

    db = sub.add_parser(
        "db", help="migrate the database", description="Alembic migrations, one branch per system."
    )
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = db_sub.add_parser(
        "upgrade",
        help="apply migrations (default: every system's head)",
        description="Apply migrations up to TARGET (default 'heads': every system's head). "
        "Applying what is already applied changes nothing.",
    )
    up.add_argument("target", nargs="?", default="heads", help="revision (default: heads)")
    down = db_sub.add_parser(
        "downgrade",
        help="revert to a revision, e.g. identity@base",
        description="Revert migrations down to TARGET. 'identity@base' drops one system's "
        "tables and leaves the others; 'base' drops everything.",
    )
    down.add_argument("target", help="revision: 'base', 'identity@base', 'workflows_0001'...")
    current = db_sub.add_parser(
        "current",
        help="show applied and pending revisions",
        description="Print the applied revisions and the heads not yet applied; with "
        "--check, exit 1 when anything is pending (for deploy scripts).",
    )
    current.add_argument("--check", action="store_true", help="exit 1 when anything is pending")
    db.set_defaults(handler=cmd_db)

    openapi = sub.add_parser(
        "openapi",
        help="write the OpenAPI document to contracts/openapi.json",
        description="Write the app's OpenAPI document, or check that the file is current.",
    )
    openapi.add_argument("--output", type=Path, default=DEFAULT_OPENAPI_PATH)
    openapi.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    openapi.set_defaults(handler=cmd_openapi)

    contracts = sub.add_parser(
        "contracts",
        help="write contracts/: the OpenAPI document and the event schemas",
        description="Write contracts/openapi.json and one JSON Schema per public domain "
        "event in contracts/events/, or with --check exit 1 when any is stale.",
    )
    contracts.add_argument("--folder", type=Path, default=DEFAULT_OPENAPI_PATH.parent)
    contracts.add_argument("--check", action="store_true", help="exit 1 if anything is stale")
    contracts.set_defaults(handler=cmd_contracts)

    seed = sub.add_parser(
        "seed-demo",
        help="create a superadmin and a demo user with a workspace (once)",
        description="On an empty database: create a platform superadmin and a demo user "
        "with a workspace, with generated passwords printed once. Later runs change nothing.",
    )
    seed.set_defaults(handler=cmd_seed_demo)

    add_staff_parser(sub)
    add_jobs_parser(sub)
    add_notifications_parser(sub)
    add_mail_parser(sub)
    add_billing_parser(sub)
    add_flags_parser(sub)
    add_kill_switch_parser(sub)
    add_audit_parser(sub)
    add_breakers_parser(sub)

    config = sub.add_parser("config", help="inspect the configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    check = config_sub.add_parser(
        "check",
        help="validate and print the effective configuration, secrets masked",
        description="Validate every NINEFOLD_* setting (exit 78 listing every problem) and "
        "print the effective configuration, secrets masked.",
    )
    check.set_defaults(handler=cmd_config_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    previous = act_as_operator(args.command)  # what it records names the operator
    try:
        return int(args.handler(args))
    except ConfigurationError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    except DatabaseError as exc:
        print(f"ninefold {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    finally:
        previous()


if __name__ == "__main__":
    sys.exit(main())
