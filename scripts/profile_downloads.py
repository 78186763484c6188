"""Profile the registry while 100 clients run the download flow (py-spy, from the bench extra).

Prints the functions with the most samples while holding the GIL (inclusive), so the
bottleneck is evidence, not a guess.
Run: .venv/bin/python scripts/profile_downloads.py [--server uvicorn] [--seconds 12]
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

from tmr.bench.downloads import login, register_models, registry_server, run_workload


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
    parser.add_argument("--out", type=Path, default=Path("profile-downloads.txt"))
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with tempfile.TemporaryDirectory() as raw, registry_server(Path(raw), 0, args.server) as reg:
        token = login(reg.base)
        tiny = register_models(reg.base, token, args.models)
        os.sched_setaffinity(0, {1})
        run_workload(reg.base, token, tiny, 100, 2)
        command = [spy, "record", "-p", str(reg.pid), "--subprocesses", "--gil", "-r", "200",
                   "-d", str(int(args.seconds)), "-f", "raw", "-o", str(args.out)]  # fmt: skip
        rec = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        load = threading.Thread(target=run_workload,
                                args=(reg.base, token, tiny, 100, args.seconds + 1))  # fmt: skip
        load.start()
        rec.wait()
        load.join()
    for name, share in top_frames(args.out):
        print(f"{share:5.1f}%  {name}")


if __name__ == "__main__":
    main()
