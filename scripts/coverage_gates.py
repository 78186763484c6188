"""The coverage gates of scripts/test, read from the combined data of one pytest run.

- the whole suite (unit, integration, API, end-to-end, browser; subprocesses included) must
  cover at least WHOLE percent of the lines of src/tmr;
- the unit and integration tests alone (their test contexts, and the subprocesses they start,
  whose static context tests/conftest.py sets to ``unit-subprocess`` / ``integration-subprocess``)
  at least FAST percent.

Prints both figures; exits 1 if either is below its gate.
"""

from __future__ import annotations

import io
import sys

import coverage

WHOLE = 95.0
FAST = 90.0
FAST_CONTEXTS = ["tests/unit/", "tests/integration/", "^unit-subprocess", "^integration-subprocess"]


def percent(contexts: list[str] | None) -> float:
    cov = coverage.Coverage()
    cov.load()
    return float(cov.report(contexts=contexts, file=io.StringIO()))


def main() -> int:
    whole = percent(None)
    fast = percent(FAST_CONTEXTS)
    ok = whole >= WHOLE and fast >= FAST
    print(
        f"coverage: whole suite {whole:.1f}% (gate {WHOLE:.0f}%), "
        f"unit + integration alone {fast:.1f}% (gate {FAST:.0f}%)"
        + ("" if ok else " -- BELOW THE GATE")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
