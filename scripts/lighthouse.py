"""Lighthouse scores of the web interface's main pages (signed in, on a seeded registry).

Starts the Hugging Face and GitHub replays and `tmr serve` on a fresh data dir, registers a few
artifacts, then runs Lighthouse 12.2.3 (npm, installed into .web-tools on first use) with
Debian's Chromium over: sign in, artifacts, an artifact page (rating chart + lineage graph),
register, the health dashboard, the account page and the atomic groups; mobile (Lighthouse's
default: emulated phone, simulated slow 4G and 4x CPU slowdown) and desktop presets. Each page
is measured --runs times (3) and the median run reported, since a loaded machine skews single
runs. Prints one row per page and preset and exits 1 when accessibility < 95 or performance < 90
anywhere.

    .venv/bin/python scripts/lighthouse.py [--preset mobile|desktop|both]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.replay.github_api import GitHubReplay  # noqa: E402
from tests.replay.hf_hub import HfHubReplay  # noqa: E402
from tests.support.served import admin_token, seed, served_registry  # noqa: E402

TOOLS = ROOT / ".web-tools"
LIGHTHOUSE = "lighthouse@12.2.3"


def ensure_lighthouse() -> None:
    if (TOOLS / "node_modules" / "lighthouse" / "package.json").exists():
        return
    TOOLS.mkdir(exist_ok=True)
    subprocess.run(
        ["npm", "install", "--prefix", str(TOOLS), "--no-audit", "--no-fund", "--silent",
         LIGHTHOUSE],
        check=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=["mobile", "desktop", "both"], default="both")
    parser.add_argument("--out", default=str(ROOT / "test-artifacts" / "lighthouse"))
    parser.add_argument("--runs", type=int, default=3,
                        help="runs per page; the median is reported (Lighthouse's advice)")
    parser.add_argument("--only", default="",
                        help="measure only the pages whose path contains this text")
    args = parser.parse_args()
    if not shutil.which("node"):
        print("node (20+) is needed for Lighthouse", file=sys.stderr)
        return 2
    ensure_lighthouse()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = ROOT / "tests" / "data" / "upstream"
    presets = ["mobile", "desktop"] if args.preset == "both" else [args.preset]
    rows = []
    with tempfile.TemporaryDirectory(prefix="tmr-lh-") as tmp, HfHubReplay(data) as hf, \
            GitHubReplay(data) as gh, served_registry(Path(tmp) / "reg", hf.url, gh.url) as base:
        token = admin_token(base)
        made = seed(base, token)
        me = httpx.get(f"{base}/users/me", headers={"X-Authorization": token}).json()
        child = made["trained-gender"]["metadata"]["id"]
        pages = ["/#/signin", "/#/", f"/#/artifact/model/{child}", "/#/register", "/#/health",
                 "/#/account", "/#/groups"]
        pages = [p for p in pages if args.only in p]
        session = json.dumps({"token": token, "user": me})
        for preset in presets:
            (out / preset).mkdir(exist_ok=True)
            runs: dict[str, list[dict]] = {}
            for _ in range(args.runs):
                done = subprocess.run(
                    ["node", str(ROOT / "scripts" / "lighthouse.mjs"), base, session,
                     str(out / preset), preset, *pages],
                    cwd=ROOT, check=True, capture_output=True, text=True,
                )
                for row in json.loads(done.stdout.strip().splitlines()[-1]):
                    runs.setdefault(row["page"], []).append(row)
            for page_runs in runs.values():
                page_runs.sort(key=lambda r: r["performance"])
                rows.append({"preset": preset, **page_runs[len(page_runs) // 2]})
    head = ("preset", "page", "perf", "a11y", "LCP ms", "TBT ms", "CLS")
    print("{:8} {:40} {:>5} {:>5} {:>7} {:>7} {:>6}".format(*head))
    ok = True
    for r in rows:
        page = r["page"] if "artifact/" not in r["page"] else "/#/artifact/model/ID"
        print(f"{r['preset']:8} {page:40} {r['performance']:5d} {r['accessibility']:5d} "
              f"{r['lcp_ms']:7d} {r['tbt_ms']:7d} {r['cls']:6.3f}"
              + (f"  a11y audits below 1: {r['accessibility_failures']}"
                 if r["accessibility_failures"] else ""))
        ok &= r["performance"] >= 90 and r["accessibility"] >= 95
    print(f"reports: {out}")
    print("PASS: performance >= 90 and accessibility >= 95 on every page" if ok else
          "FAIL: a page is below performance 90 or accessibility 95")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
