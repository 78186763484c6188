"""List the distinct error messages the registry can produce and which tests assert them.

An error message is the first argument of ``raise SomeError(...)`` in ``src/tmr`` where
``SomeError`` is one of our error classes (``src/tmr/errors.py``: each becomes a 4xx/5xx body).
Its template is the literal parts of the string with placeholders where f-string values go. A
message is "asserted" when a test under ``tests/`` checks a fragment of it: a string constant
inside an ``assert`` statement, a ``match=`` argument, or a ``parametrize`` value the test
asserts ``in`` something, that is part of some message the template makes - inside one
literal part, or spanning placeholders with the literal parts between them whole
(``f"no group with id {gid}"`` fits ``f"no group with id {group_id}"``).

A fragment counts only for the templates it shows the most literal text of, and only when
that is at least ``MIN_FRAGMENT`` characters and at most ``MAX_SHARED`` distinct templates tie:
"artifact", "download" or "not found" occur in many messages and prove none was provoked.
Strings a test asserts to be *absent* (``assert "Traceback" not in body``) assert nothing.
``--explain`` prints, for each asserted message, the fragments that count for it.

Prints every message not asserted (file:line and its fixed text), then the totals; exits 1 when
fewer than ``--min`` percent (default 80) are asserted.
"""

from __future__ import annotations

import argparse
import ast
import re
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


Template = tuple[str | None, ...]  # literal parts, and None where a placeholder stands


def template(node: ast.expr) -> list[str | None]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [v.value if isinstance(v, ast.Constant) else None for v in node.values]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return template(node.left) + template(node.right)
    return [None]


def literal_parts(tpl: Template) -> list[str]:
    return [p for p in tpl if p is not None and p.strip()]


def messages() -> list[tuple[str, int, Template]]:
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
            tpl = tuple(template(node.exc.args[0]))
            if literal_parts(tpl):
                found.append((str(path.relative_to(ROOT)), node.lineno, tpl))
    return found


def _negated(node: ast.AST) -> bool:
    """``x not in y`` / ``x != y``: the constants in it are asserted to be absent."""
    return isinstance(node, ast.Compare) and all(
        isinstance(op, (ast.NotIn, ast.NotEq, ast.IsNot)) for op in node.ops
    )


def _filled(node: ast.JoinedStr) -> str:
    """An f-string as a test means it: constant values filled in, other values as ``\x01``
    (which only a placeholder of a message template can stand for)."""
    out = []
    for v in node.values:
        if isinstance(v, ast.Constant):
            out.append(str(v.value))
        elif isinstance(v, ast.FormattedValue) and isinstance(v.value, ast.Constant):
            out.append(repr(v.value.value) if v.conversion == ord("r") else str(v.value.value))
        else:
            out.append("\x01")
    return "".join(out)


def _constants(node: ast.AST) -> list[str]:
    if _negated(node):
        return []
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [_filled(node)]
    return [c for child in ast.iter_child_nodes(node) for c in _constants(child)]


def _parametrized(func: ast.FunctionDef) -> list[str]:
    """Constants a ``@pytest.mark.parametrize`` feeds to a parameter the test asserts ``in``."""
    asserted: set[str] = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Assert):
            for cmp in ast.walk(node.test):
                if (
                    isinstance(cmp, ast.Compare)
                    and isinstance(cmp.left, ast.Name)
                    and isinstance(cmp.ops[0], ast.In)
                ):
                    asserted.add(cmp.left.id)
    out: list[str] = []
    for deco in func.decorator_list:
        if not (
            isinstance(deco, ast.Call)
            and getattr(deco.func, "attr", "") == "parametrize"
            and len(deco.args) >= 2
        ):
            continue
        names_node, values = deco.args[0], deco.args[1]
        if isinstance(names_node, ast.Constant) and isinstance(names_node.value, str):
            names = [n.strip() for n in names_node.value.split(",")]
        elif isinstance(names_node, (ast.Tuple, ast.List)):
            names = [n.value for n in names_node.elts if isinstance(n, ast.Constant)]
        else:
            continue
        if not isinstance(values, (ast.List, ast.Tuple)):
            continue
        for row in values.elts:
            cells = row.elts if isinstance(row, ast.Tuple) and len(names) > 1 else [row]
            for name, cell in zip(names, cells, strict=False):
                if name in asserted:
                    out.extend(_constants(cell))
    return out


def test_fragments() -> set[str]:
    """String constants the tests assert with (inside ``assert``, as ``match=``, or fed by
    ``parametrize`` to a name the test asserts ``in`` something)."""
    out: set[str] = set()
    for path in TESTS.rglob("*.py"):
        tree = ast.parse(path.read_text(errors="replace"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                out.update(v.strip() for v in _parametrized(node) if len(v.strip()) >= MIN_FRAGMENT)
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


def coverage(fragment: str, tpl: Template) -> int:
    """How many characters of the template's literal text ``fragment`` shows, if it is part of
    some message ``tpl`` makes (anything can stand where a placeholder is); else 0.

    Either it lies inside one literal part, or it spans placeholders: it holds consecutive
    literal parts whole, in order, with something where each placeholder between them stands
    (``f"no group with id {gid}"`` fits ``f"no group with id {group_id}"``).
    """
    best = max((len(fragment) for p in literal_parts(tpl) if fragment in p), default=0)
    lits = [i for i, p in enumerate(tpl) if p]
    for x, a in enumerate(lits):
        for b in lits[x:]:
            window = tpl[a : b + 1]
            literal = [p for p in window if p]
            if not all(p in fragment for p in literal):
                break
            before = ".*" if a > 0 and tpl[a - 1] is None else ""
            after = ".*" if b + 1 < len(tpl) and tpl[b + 1] is None else ""
            if not (before or after or None in window):
                continue  # one literal part and no placeholder: the substring rule above
            body = "".join(".+" if p is None else re.escape(p) for p in window)
            if re.fullmatch(f"(?s){before}{body}{after}", fragment):
                best = max(best, sum(len(p.strip()) for p in literal))
    return best


def asserted_by(fragments: set[str], templates: list[Template]) -> dict[Template, list[str]]:
    """For each template, the fragments that point at it: each fragment counts for the templates
    it shows most literal text of, when that is at least ``MIN_FRAGMENT`` characters and at most
    ``MAX_SHARED`` distinct templates tie (a fragment found in many messages proves none)."""
    distinct = set(templates)
    out: dict[Template, list[str]] = {t: [] for t in distinct}
    for fragment in sorted(fragments):
        scores = {t: coverage(fragment, t) for t in distinct}
        best = max(scores.values(), default=0)
        winners = [t for t, score in scores.items() if score == best]
        if best >= MIN_FRAGMENT and len(winners) <= MAX_SHARED:
            for t in winners:
                out[t].append(fragment)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=float, default=80.0, help="percent that must be asserted")
    parser.add_argument("--explain", action="store_true", help="show the fragments that count")
    args = parser.parse_args()
    found = messages()
    hits_of = asserted_by(test_fragments(), [tpl for _, _, tpl in found])
    missing = 0
    for f, line, tpl in found:
        hits = hits_of[tpl]
        missing += not hits
        if not hits:
            shown = "…".join(p.strip() for p in literal_parts(tpl))[:110]
            print(f"not asserted  {f}:{line}  {shown}")
        elif args.explain:
            print(f"asserted      {f}:{line}  by {hits[:3]}")
    share = 100.0 * (len(found) - missing) / max(1, len(found))
    print(f"{len(found) - missing} of {len(found)} error messages asserted by a test "
          f"({share:.1f}%; required {args.min:.0f}%)")
    return 0 if share >= args.min else 1


if __name__ == "__main__":
    sys.exit(main())
