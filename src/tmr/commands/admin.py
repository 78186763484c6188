"""Machine administrators' commands: ``tmr user …`` and ``tmr audit-verify``.

``tmr user`` talks to the database directly (whoever can run it on the machine can read the
database anyway); every change is recorded in the security log with the actor ``cli:<login>``.
``tmr audit-verify`` opens the database read-only, runs no migrations, creates no key, and
writes nothing.
"""

from __future__ import annotations

import getpass
import os
import sys
from argparse import Namespace

from tmr.config import Settings
from tmr.domain.artifact import User


def _cli_actor() -> User:
    try:
        login = os.getlogin()
    except OSError:
        login = os.environ.get("USER", "unknown")
    return User(f"cli:{login}", True, frozenset({"admin", "search", "upload", "download"}))


def _password(args: Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("new password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("tmr user: the passwords differ")
    return first


def user_command(args: Namespace, settings: Settings) -> int:
    from tmr.composition import build_registry
    from tmr.errors import TmrError

    registry = build_registry(settings)
    actor = _cli_actor()
    try:
        if args.user_command == "list":
            for u in registry.auth.list_users(actor):
                role = "admin" if u.is_admin else ",".join(sorted(u.permissions)) or "-"
                print(f"{u.name}\t{role}\t{'disabled' if u.disabled else 'active'}")
        elif args.user_command == "add":
            perms = frozenset(p for p in (args.permissions or "").split(",") if p)
            registry.auth.create_user(actor, args.name, _password(args), args.admin, perms)
            print(f"added {args.name}")
        elif args.user_command == "passwd":
            registry.accounts.reset_password(actor, args.name, _password(args))
            print(f"password of {args.name} set; their tokens are revoked")
        elif args.user_command in ("disable", "enable"):
            registry.accounts.set_disabled(actor, args.name, args.user_command == "disable")
            print(f"{args.name} {args.user_command}d")
        elif args.user_command == "delete":
            registry.auth.delete_user(actor, args.name)
            print(f"deleted {args.name}")
    except TmrError as exc:
        print(f"tmr user: {exc.message}", file=sys.stderr)
        return 1
    finally:
        registry.db.dispose()
    return 0


def audit_verify(settings: Settings) -> int:
    """Check both keyed chains and their checkpoints; 0 intact, 1 broken, 2 cannot check."""
    from tmr.errors import TmrError
    from tmr.storage.db.audit import AuditRepository, SecurityLogRepository
    from tmr.storage.db.engine import Database
    from tmr.storage.secrets import read_key

    try:
        key = read_key(settings.resolved_audit_key_file)
    except (OSError, ValueError) as exc:
        print(f"tmr audit-verify: cannot read the audit key: {exc}", file=sys.stderr)
        return 2
    try:
        db = Database(settings.resolved_database_url, read_only=True)
        with db.read() as s:
            reports = [AuditRepository(s, key).verify(), SecurityLogRepository(s, key).verify()]
        db.dispose()
    except TmrError as exc:
        print(f"tmr audit-verify: {exc.message}", file=sys.stderr)
        return 2
    broken = False
    for r in reports:
        if r.intact:
            print(f"{r.stream}: intact, {r.entries} entries, head {r.head}")
        else:
            broken = True
            print(f"{r.stream}: BROKEN: {r.problem}", file=sys.stderr)
    return 1 if broken else 0
