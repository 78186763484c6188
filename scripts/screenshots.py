"""Screenshots of the web interface for the README (docs/screenshots/*.png).

Starts the replays and `tmr serve` on a fresh data dir, registers a few artifacts, makes some
traffic, then photographs the main pages with Playwright and Debian's Chromium.

    .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.replay.github_api import GitHubReplay  # noqa: E402
from tests.replay.hf_hub import HfHubReplay  # noqa: E402
from tests.support.served import (  # noqa: E402
    ADMIN,
    ADMIN_PASSWORD,
    admin_token,
    seed,
    served_registry,
)

OUT = ROOT / "docs" / "screenshots"


def main() -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    data = ROOT / "tests" / "data" / "upstream"
    with tempfile.TemporaryDirectory(prefix="tmr-shots-") as tmp, HfHubReplay(data) as hf, \
            GitHubReplay(data) as gh, served_registry(Path(tmp) / "reg", hf.url, gh.url) as base:
        token = admin_token(base)
        made = seed(base, token)
        auth = {"X-Authorization": token}
        for name in ("Tiny-LLM", "bert-base-uncased"):
            art = made[name]["metadata"]  # the first download pulls the large files through
            httpx.get(f"{base}/download/{art['id']}", params={"part": "all"}, headers=auth,
                      timeout=120)
        child = made["trained-gender"]["metadata"]["id"]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(f"{base}/#/signin")
            page.get_by_role("heading", name="Sign in").wait_for()
            page.screenshot(path=str(OUT / "signin.png"))
            page.get_by_label("User name").fill(ADMIN)
            page.get_by_label("Password").fill(ADMIN_PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.locator("#result-summary").wait_for()
            page.screenshot(path=str(OUT / "artifacts.png"))
            page.goto(f"{base}/#/artifact/model/{child}")
            page.locator("details[data-metric=license] summary").click()
            page.wait_for_function("() => window.Chart && document.querySelector('canvas')")
            page.wait_for_timeout(500)
            page.evaluate("() => window.scrollTo(0, 0)")
            page.screenshot(path=str(OUT / "artifact.png"))
            page.locator(".lineage-svg").scroll_into_view_if_needed()
            page.locator(".lineage-svg svg").wait_for()
            page.locator("section[aria-labelledby=sec-lineage]").screenshot(
                path=str(OUT / "lineage.png")
            )
            page.goto(f"{base}/#/health")
            page.locator("[data-component=api]").wait_for()
            page.wait_for_function("() => window.Chart && document.querySelector('canvas')")
            page.wait_for_timeout(800)
            page.screenshot(path=str(OUT / "dashboard.png"), full_page=False)
            # tmr bench downloads' code at a small scale (the button's defaults: 500 and 100).
            page.get_by_label("Models in the registry").fill("30")
            page.get_by_label("Clients").fill("10")
            page.get_by_label("Seconds").fill("5")
            page.get_by_role("button", name="Run download workload").click()
            page.get_by_role("table", name="Workload result").wait_for(timeout=300_000)
            page.get_by_role("heading", name="Download workload").scroll_into_view_if_needed()
            page.locator("section[aria-labelledby=h-workload]").screenshot(
                path=str(OUT / "workload.png")
            )
            # Account, security log, an open atomic group with its commands.
            page.goto(f"{base}/#/account")
            page.get_by_role("table", name="Your tokens").wait_for()
            page.screenshot(path=str(OUT / "account.png"))
            page.goto(f"{base}/#/security")
            page.get_by_role("table", name="Security events, oldest first").wait_for()
            page.screenshot(path=str(OUT / "security-log.png"))
            group = httpx.post(f"{base}/groups", headers=auth, timeout=60).json()["id"]
            for command in (
                {"op": "register", "type": "model", "name": "bert-in-a-group",
                 "url": "https://huggingface.co/google-bert/bert-base-uncased"},
                {"op": "register", "type": "dataset", "name": "squad-in-a-group",
                 "url": "https://huggingface.co/datasets/rajpurkar/squad"},
                {"op": "delete", "type": "model", "id": made["Tiny-LLM"]["metadata"]["id"]},
            ):
                r = httpx.post(f"{base}/groups/{group}/commands", headers=auth, json=command,
                               timeout=60)
                r.raise_for_status()
            page.goto(f"{base}/#/groups/{group}")
            page.locator("section[aria-labelledby=grp-commands] table").wait_for()
            page.screenshot(path=str(OUT / "group.png"))
            phone = browser.new_page(viewport={"width": 390, "height": 780}, is_mobile=True)
            phone.goto(f"{base}/#/signin")
            phone.evaluate(
                "([t, u]) => { sessionStorage.setItem('tmr.token', t);"
                " sessionStorage.setItem('tmr.user', u); }",
                [token, httpx.get(f"{base}/users/me", headers=auth).text],
            )
            phone.goto(f"{base}/#/artifact/model/{child}")
            phone.locator("section[aria-labelledby=sec-download] table").wait_for()
            phone.screenshot(path=str(OUT / "phone.png"))
            browser.close()
    for f in sorted(OUT.glob("*.png")):
        print(f.relative_to(ROOT), f.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
