"""Profile the registry under load (py-spy, from the bench extra): 100 clients running the
download flow (``--workload downloads``), or reading ``GET /artifacts/{type}/{id}`` on a registry
of 10 000 artifacts with wrk (``--workload reads``).

Prints the functions with the most samples while holding the GIL (inclusive), so the
bottleneck is evidence, not a guess.
Run: .venv/bin/python scripts/profile_server.py [--workload reads] [--server uvicorn]
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from tmr.bench.downloads import login, register_models, registry_server, run_workload

WRK_READS = """
local ids = {}
for line in io.lines("%s") do ids[#ids + 1] = line end
request = function()
  return wrk.format("GET", "/artifacts/dataset/" .. ids[math.random(#ids)])
end
"""


def top_frames(raw: Path, n: int = 25) -> list[tuple[str, float]]:
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        seen = set()
        for frame in stack.split(";")[1:]:  # the first frame is the process
            func, _, where = frame.partition(" (")
            name = f"{func} ({where.rsplit('/', 1)[-1].rstrip(')')})"
            if name not in seen:
                seen.add(name)
                inclusive[name] += int(count)
    return [(name, 100 * c / total) for name, c in inclusive.most_common(n)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default="uvicorn")
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--workload", choices=["downloads", "reads"], default="downloads")
    parser.add_argument("--out", type=Path, default=Path("/tmp/tmr-profile.txt"))
    parser.add_argument("--warm", type=int, default=20, help="seconds of load before recording")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with tempfile.TemporaryDirectory() as raw:
        if args.workload == "reads":
            sys.path.insert(0, str(Path(__file__).parent))
            from benchutil import seed

            ids = seed(f"sqlite:///{Path(raw) / 'registry.db'}", 10_000)
        else:
            ids = []
        with registry_server(Path(raw), 0, args.server) as reg:
            profile(args, reg, ids, spy)
    for name, share in top_frames(args.out):
        print(f"{share:5.1f}%  {name}")


def profile(args: argparse.Namespace, reg: Any, ids: list[str], spy: str) -> None:
    token = login(reg.base)
    os.sched_setaffinity(0, {1})
    if args.workload == "reads":
        script = Path(tempfile.mkdtemp()) / "reads.lua"
        (script.parent / "ids.txt").write_text("\n".join(ids))
        script.write_text(WRK_READS % (script.parent / "ids.txt"))
        wrk = ["wrk", "-t1", "-c100", "--timeout", "10s", "-s", str(script),
               "-H", f"X-Authorization: {token}", reg.base]  # fmt: skip

        def load() -> None:
            subprocess.run([*wrk[:1], "-d", f"{int(args.seconds) + 1}s", *wrk[1:]],
                           capture_output=True, check=True)  # fmt: skip

        subprocess.run([*wrk[:1], "-d", f"{args.warm}s", *wrk[1:]], capture_output=True, check=True)
    else:
        tiny = register_models(reg.base, token, args.models)
        run_workload(reg.base, token, tiny, 100, 2)

        def load() -> None:
            run_workload(reg.base, token, tiny, 100, args.seconds + 1)

    command = [spy, "record", "-p", str(reg.pid), "--subprocesses", "--gil", "-r", "200",
               "-d", str(int(args.seconds)), "-f", "raw", "-o", str(args.out)]  # fmt: skip
    rec = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    loader = threading.Thread(target=load)
    loader.start()
    rec.wait()
    loader.join()


if __name__ == "__main__":
    main()
