"""The ``tmr`` command: serve the registry, rate models from a URL file, ingest, check the audit.

tmr serve [--host H] [--port P] [--workers N] [--server granian|uvicorn]
tmr rate URL_FILE                 NDJSON ratings, the earlier CLI's interface
tmr ingest URL --type T [--name N]
tmr audit-verify                  check the keyed audit chains (read-only)
tmr group open|add|execute|status atomic groups (tmr.commands.groups)
tmr user add|list|passwd|disable|enable|delete   manage accounts in the database directly
tmr bench downloads [--models 500] [--clients 100] [--seconds 10]   the reference experiment
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tmr", description="Trustworthy Model Registry")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--server",
        choices=["granian", "uvicorn"],
        help="ASGI server (default TMR_SERVER, uvicorn; both send stored files without Python)",
    )
    rate = sub.add_parser("rate", help="rate the models of a URL file (NDJSON on stdout)")
    rate.add_argument("url_file", type=Path)
    ingest = sub.add_parser("ingest", help="register an artifact from a source URL")
    ingest.add_argument("url")
    ingest.add_argument("--type", choices=["model", "dataset", "code"], default="model")
    ingest.add_argument("--name")
    sub.add_parser("audit-verify", help="verify the audit logs' keyed chains (read-only)")
    user = sub.add_parser("user", help="manage accounts directly in the database")
    users = user.add_subparsers(dest="user_command", required=True)
    users.add_parser("list", help="list users")
    add = users.add_parser("add", help="add a user (password asked, or --password-stdin)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true")
    add.add_argument("--permissions", default="search,download", help="comma-separated")
    add.add_argument("--password-stdin", action="store_true")
    passwd = users.add_parser("passwd", help="set a user's password (revokes their tokens)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    for verb in ("disable", "enable", "delete"):
        users.add_parser(verb, help=f"{verb} a user").add_argument("name")
    from tmr.commands.groups import add_parser as add_group_parser

    add_group_parser(sub)
    bench = sub.add_parser("bench", help="run a benchmark workload (bench downloads --help)")
    bench.add_argument("workload", choices=["downloads"])
    bench.add_argument("options", nargs=argparse.REMAINDER)
    return parser


def _serve_granian(host: str, port: int, workers: int) -> int:
    """Granian (a Rust HTTP server) runs the same ASGI app; it implements the ASGI path-send
    extension, so stored files (bundles) go out from Rust without passing through Python."""
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    Granian(
        "tmr.asgi:app",
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        log_level=LogLevels.warning,
        backlog=2048,
    ).serve()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from tmr.config import load_settings

    settings = load_settings()
    if args.command == "serve":
        if (args.server or settings.server) == "granian":
            return _serve_granian(args.host, args.port, args.workers)
        import uvicorn

        # the standard asyncio loop: its transports can sendfile (api/zerocopy.py), uvloop's not
        options: dict[str, Any] = {"host": args.host, "port": args.port, "loop": "asyncio",
                                   "log_level": "warning", "backlog": 2048}  # fmt: skip
        if args.workers > 1:
            uvicorn.run("tmr.asgi:served", workers=args.workers, **options)
        else:
            from tmr.api.heap import settle_heap
            from tmr.api.zerocopy import ZeroCopyFiles
            from tmr.app import create_app

            served = ZeroCopyFiles(create_app(settings))
            settle_heap()  # api/heap.py
            uvicorn.run(served, **options)
        return 0
    if args.command == "bench":
        from tmr.bench.downloads import main as bench_downloads

        return bench_downloads(args.options)
    if args.command == "rate":
        from tmr.commands.rate import run

        return run(args.url_file, settings)
    if args.command == "ingest":
        from tmr.composition import build_registry, build_services
        from tmr.domain.artifact import ArtifactType
        from tmr.errors import TmrError
        from tmr.logging_setup import configure_logging
        from tmr.services.auth import DEFAULT_ADMIN

        configure_logging(settings.log_level, settings.log_file)
        registry = build_registry(settings)
        from tmr.domain.artifact import User

        try:
            artifact = build_services(registry).ingest.register_url(
                ArtifactType(args.type), args.url, args.name, User(DEFAULT_ADMIN, True)
            )
        except TmrError as exc:
            print(f"tmr ingest: {exc.message}", file=sys.stderr)
            return 1
        print(f"{artifact.id}\t{artifact.type.value}\t{artifact.name}")
        return 0
    if args.command == "audit-verify":
        from tmr.commands.admin import audit_verify

        return audit_verify(settings)
    if args.command == "group":
        from tmr.commands.groups import group_command

        return group_command(args, settings)
    if args.command == "user":
        from tmr.commands.admin import user_command

        return user_command(args, settings)
    return 2


if __name__ == "__main__":
    sys.exit(main())
