"""List the distinct error messages the registry can produce and which tests assert them.

An error message is the first argument of ``raise SomeError(...)`` in ``src/tmr`` where
``SomeError`` is one of our error classes (``src/tmr/errors.py``: each becomes a 4xx/5xx body).
Its fixed text is the literal parts of the string (f-string placeholders removed). A message is
"asserted" when a test under ``tests/`` checks a fragment of it: a string of at least 6
characters inside an ``assert`` statement (or a ``match=`` argument) that occurs in the fixed
text - the tests check messages by substring (``assert "expired" in r.json()["message"]``).

A fragment counts only when it says which message the test saw: one that occurs in more than
``MAX_SHARED`` distinct message texts ("artifact", "download", "repository", "password") is
too generic to prove any of them was provoked, and strings a test asserts to be *absent*
(``assert "Traceback" not in body``) assert nothing about a message. ``--explain`` prints,
for each asserted message, the fragments that count for it.

Prints every message not asserted (file:line and its fixed text), then the totals; exits 1 when
fewer than ``--min`` percent (default 80) are asserted.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "tmr"
TESTS = ROOT / "tests"
MIN_FRAGMENT = 6
MAX_SHARED = 2


def error_classes() -> set[str]:
    tree = ast.parse((SRC / "errors.py").read_text())
    names = {"TmrError"}
    changed = True
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    while changed:
        changed = False
        for cls in classes:
            bases = {b.id for b in cls.bases if isinstance(b, ast.Name)}
            if cls.name not in names and bases & names:
                names.add(cls.name)
                changed = True
    return names


def literal_parts(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.Constant)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return literal_parts(node.left) + literal_parts(node.right)
    return []


def messages() -> list[tuple[str, int, list[str]]]:
    ours = error_classes()
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise) or not isinstance(node.exc, ast.Call):
                continue
            func = node.exc.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name not in ours or not node.exc.args:
                continue
            parts = [p for p in literal_parts(node.exc.args[0]) if p.strip()]
            if parts:
                found.append((str(path.relative_to(ROOT)), node.lineno, parts))
    return found


def _negated(node: ast.AST) -> bool:
    """``x not in y`` / ``x != y``: the constants in it are asserted to be absent."""
    return isinstance(node, ast.Compare) and all(
        isinstance(op, (ast.NotIn, ast.NotEq, ast.IsNot)) for op in node.ops
    )


def _constants(node: ast.AST) -> list[str]:
    if _negated(node):
        return []
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    return [c for child in ast.iter_child_nodes(node) for c in _constants(child)]


def test_fragments() -> set[str]:
    """String constants the tests assert with (inside ``assert`` or as ``match=``)."""
    out: set[str] = set()
    for path in TESTS.rglob("*.py"):
        tree = ast.parse(path.read_text(errors="replace"))
        for node in ast.walk(tree):
            scopes: list[ast.AST] = []
            if isinstance(node, ast.Assert):
                scopes.append(node.test)
            elif isinstance(node, ast.keyword) and node.arg == "match":
                scopes.append(node.value)
            for scope in scopes:
                for value in _constants(scope):
                    text = value.strip()
                    if len(text) >= MIN_FRAGMENT:
                        out.add(text)
    return out


def specific(fragments: set[str], texts: set[str]) -> set[str]:
    """The fragments that occur in at most ``MAX_SHARED`` distinct message texts."""
    return {f for f in fragments if sum(f in t for t in texts) <= MAX_SHARED}


def matching(parts: list[str], fragments: set[str]) -> list[str]:
    text = "\x00".join(parts)
    return sorted(f for f in fragments if f in text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=float, default=80.0, help="percent that must be asserted")
    parser.add_argument("--explain", action="store_true", help="show the fragments that count")
    args = parser.parse_args()
    found = messages()
    fragments = specific(test_fragments(), {"\x00".join(parts) for _, _, parts in found})
    missing = 0
    for f, line, parts in found:
        hits = matching(parts, fragments)
        missing += not hits
        if not hits:
            print(f"not asserted  {f}:{line}  {'…'.join(p.strip() for p in parts)[:110]}")
        elif args.explain:
            print(f"asserted      {f}:{line}  by {hits[:3]}")
    share = 100.0 * (len(found) - missing) / max(1, len(found))
    print(f"{len(found) - missing} of {len(found)} error messages asserted by a test "
          f"({share:.1f}%; required {args.min:.0f}%)")
    return 0 if share >= args.min else 1


if __name__ == "__main__":
    sys.exit(main())
