"""``tmr group …``: atomic groups from the command line, straight against the stores (like
``tmr ingest``), acting as the default administrator.

    tmr group open                                        prints the new group's id
    tmr group add GID register URL --type T [--name N]
    tmr group add GID upload ZIP --type T [--name N]
    tmr group add GID update ARTIFACT_ID URL [--name N]
    tmr group add GID delete ARTIFACT_ID --type T
    tmr group execute GID                                 one line per change, or exit 1
    tmr group status GID                                  the group as JSON
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tmr.config import Settings
from tmr.domain.artifact import ArtifactType, User
from tmr.domain.groups import Group, GroupCommand

if TYPE_CHECKING:
    from tmr.services.groups import GroupService

TYPES = ["model", "dataset", "code"]


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("group", help="atomic groups: open, add commands, execute, status")
    verbs = group.add_subparsers(dest="group_command", required=True)
    verbs.add_parser("open", help="open an empty group (prints its id)")
    add = verbs.add_parser("add", help="append a command to an open group")
    add.add_argument("group_id")
    ops = add.add_subparsers(dest="op", required=True)
    register = ops.add_parser("register", help="register an artifact from a source URL")
    register.add_argument("url")
    register.add_argument("--type", choices=TYPES, default="model")
    register.add_argument("--name")
    upload = ops.add_parser("upload", help="register a zip laid out like a HF repository")
    upload.add_argument("zip", type=Path)
    upload.add_argument("--type", choices=TYPES, default="model")
    upload.add_argument("--name")
    update = ops.add_parser("update", help="new contents for an artifact from a URL")
    update.add_argument("artifact_id")
    update.add_argument("url")
    update.add_argument("--name")
    delete = ops.add_parser("delete", help="delete an artifact")
    delete.add_argument("artifact_id")
    delete.add_argument("--type", choices=TYPES, required=True)
    for verb in ("execute", "status"):
        verbs.add_parser(verb, help=f"{verb} a group").add_argument("group_id")


def as_json(g: Group) -> dict[str, object]:
    return {
        "id": g.id,
        "status": g.status.value,
        "created_by": g.created_by,
        "expires_at": g.expires_at.isoformat(),
        "reason": g.reason,
        "commands": [
            {
                "position": c.position,
                "op": c.op.value,
                "type": c.type.value,
                "id": c.artifact_id,
                "url": c.url,
                "name": c.name,
                "filename": c.filename,
            }
            for c in g.commands
        ],  # fmt: skip
        "results": [
            {
                "position": r.position,
                "op": r.op.value,
                "id": r.artifact_id,
                "type": r.type.value,
                "name": r.artifact_name,
            }
            for r in g.results
        ],  # fmt: skip
    }


def group_command(args: argparse.Namespace, settings: Settings) -> int:
    from tmr.composition import build_registry, build_services
    from tmr.errors import TmrError
    from tmr.logging_setup import configure_logging
    from tmr.services.auth import DEFAULT_ADMIN

    configure_logging(settings.log_level, settings.log_file)
    registry = build_registry(settings)
    services = build_services(registry)
    user = User(DEFAULT_ADMIN, True)
    groups = services.groups
    try:
        if args.group_command == "open":
            print(groups.open(user).id)
        elif args.group_command == "status":
            print(json.dumps(as_json(groups.get(args.group_id, user)), indent=2))
        elif args.group_command == "execute":
            done = services.group_execution.execute(args.group_id, user)
            for r in done.results:
                print(f"{r.position}\t{r.op.value}\t{r.artifact_id}\t{r.type.value}\t"
                      f"{r.artifact_name}")  # fmt: skip
        else:
            command = _append(groups, args, user)
            print(f"{command.position}\t{command.op.value}\t{command.type.value}")
    except TmrError as exc:
        print(f"tmr group: {exc.message}", file=sys.stderr)
        return 1
    finally:
        registry.db.dispose()
    return 0


def _append(groups: GroupService, args: argparse.Namespace, user: User) -> GroupCommand:
    if args.op == "register":
        return groups.append_register(args.group_id, user, ArtifactType(args.type), args.url,
                                      args.name)  # fmt: skip
    if args.op == "upload":
        zip_path: Path = args.zip
        if not zip_path.is_file():
            from tmr.errors import BadRequest

            raise BadRequest(f"no zip file at {zip_path}")
        return groups.append_upload(args.group_id, user, ArtifactType(args.type), zip_path,
                                    zip_path.name, args.name)  # fmt: skip
    if args.op == "update":
        return groups.append_update(args.group_id, user, args.artifact_id, args.url, args.name)
    return groups.append_delete(args.group_id, user, ArtifactType(args.type), args.artifact_id)
