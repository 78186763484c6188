"""Summarise a mutmut run: the score per outcome, the survivors by function; exit 1 below 80 %.

Killed and timed-out mutants count as caught (a mutant that makes the tests hang is detected);
mutants no test reaches count against the score, like survivors.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

TARGET = 0.80


def survivors() -> list[str]:
    out = subprocess.run(
        [str(Path(".venv/bin/mutmut")), "results"], capture_output=True, text=True, check=False
    ).stdout
    return [
        line.strip() for line in out.splitlines() if line.strip().endswith(("survived", "no tests"))
    ]


def main(stats_file: str) -> int:
    stats = json.loads(Path(stats_file).read_text())
    caught = stats["killed"] + stats["timeout"]
    total = stats["total"] - stats.get("skipped", 0)
    score = caught / total if total else 0.0
    print(
        f"mutants {total}: killed {stats['killed']}, timed out {stats['timeout']}, "
        f"survived {stats['survived']}, reached by no test {stats['no_tests']}, "
        f"suspicious {stats.get('suspicious', 0)}"
    )
    print(f"mutation score {score:.1%} (target {TARGET:.0%})")
    left = survivors()
    by_function = Counter(name.split("__mutmut_")[0] for name in left)
    for function, count in by_function.most_common():
        print(f"  {count:3d} not caught in {function}")
    return 0 if score >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
