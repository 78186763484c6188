"""The ``tmr`` command: serve the registry, rate models from a URL file, ingest, check the audit.

tmr serve [--host H] [--port P] [--workers N]
tmr rate URL_FILE                 NDJSON ratings, the earlier CLI's interface
tmr ingest URL --type T [--name N]
tmr audit-verify                  check the hash chain of the audit log
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tmr", description="Trustworthy Model Registry")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    rate = sub.add_parser("rate", help="rate the models of a URL file (NDJSON on stdout)")
    rate.add_argument("url_file", type=Path)
    ingest = sub.add_parser("ingest", help="register an artifact from a source URL")
    ingest.add_argument("url")
    ingest.add_argument("--type", choices=["model", "dataset", "code"], default="model")
    ingest.add_argument("--name")
    sub.add_parser("audit-verify", help="verify the audit log's hash chain")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from tmr.config import load_settings

    settings = load_settings()
    if args.command == "serve":
        import uvicorn

        if args.workers > 1:
            uvicorn.run(
                "tmr.asgi:app",
                host=args.host,
                port=args.port,
                workers=args.workers,
                log_level="warning",
            )
        else:
            from tmr.app import create_app

            uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
        return 0
    if args.command == "rate":
        from tmr.commands.rate import run

        return run(args.url_file, settings)
    if args.command == "ingest":
        from tmr.domain.artifact import ArtifactType
        from tmr.errors import TmrError
        from tmr.logging_setup import configure_logging
        from tmr.services.auth import DEFAULT_ADMIN
        from tmr.services.ingest import IngestService
        from tmr.services.registry import build_registry

        configure_logging(settings.log_level, settings.log_file)
        registry = build_registry(settings)
        from tmr.domain.artifact import User

        try:
            artifact = IngestService(registry).register_url(
                ArtifactType(args.type), args.url, args.name, User(DEFAULT_ADMIN, True)
            )
        except TmrError as exc:
            print(f"tmr ingest: {exc.message}", file=sys.stderr)
            return 1
        print(f"{artifact.id}\t{artifact.type.value}\t{artifact.name}")
        return 0
    if args.command == "audit-verify":
        from tmr.services.registry import build_registry
        from tmr.storage.db.audit import AuditRepository

        registry = build_registry(settings)
        with registry.db.transaction() as s:
            broken = AuditRepository(s).verify_chain()
        if broken is None:
            print("audit log intact")
            return 0
        print(f"audit log broken at entry {broken}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
