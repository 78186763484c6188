"""Browser tests: Playwright for Python driving Debian's Chromium against `tmr serve`.

Chromium comes from the `chromium` Debian package and axe-core from npm, both installed by
scripts/test (Playwright cannot download its own browsers here). Without them the tests are
skipped locally with the reason, and FAIL under CI=true. Every test saves a screenshot of its
page under test-artifacts/web/ (gitignored).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.served import ADMIN, ADMIN_PASSWORD, admin_token, served_registry

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "web"
AXE = ROOT / ".web-tools" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("TMR_CHROMIUM", "/usr/bin/chromium")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _missing(what: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} (CI=true: the test command must install it)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _missing(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    return CHROMIUM


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        _missing("axe-core not installed: npm install --prefix .web-tools axe-core")
    return AXE.read_text()


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    """One Chromium per module: Playwright's sync API keeps an event loop set in the thread
    while it runs, which would break the asyncio.run() of other modules that the same xdist
    worker runs after it."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (Python) is not installed: pip install -e '.[dev]'")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=chromium_path,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        yield b
        b.close()


@pytest.fixture(scope="module")
def registry_url(
    tmp_path_factory: pytest.TempPathFactory, hf_replay: str, github_replay: str
) -> Iterator[str]:
    data = tmp_path_factory.mktemp("web-registry")
    with served_registry(data, hf_replay, github_replay) as base:
        yield base


@pytest.fixture(scope="module")
def token(registry_url: str) -> str:
    return admin_token(registry_url)


@pytest.fixture
def api(registry_url: str, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=registry_url, timeout=120, headers={"X-Authorization": token}
    ) as client:
        yield client


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.set_default_timeout(20_000)
    yield pg
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        pg.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
        stray = pg.evaluate(STRAY_TEXT_JS) if not pg.is_closed() else False
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not stray, "a bare 'null'/'undefined' text node was rendered"


STRAY_TEXT_JS = """() => [document.body, ...document.body.querySelectorAll('*')].some(el =>
  [...el.childNodes].some(n => n.nodeType === 3
    && ['null', 'undefined'].includes(n.textContent.trim())))"""


def sign_in(page: Any, base: str, name: str = ADMIN, password: str = ADMIN_PASSWORD) -> None:
    page.goto(f"{base}/#/signin")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()


def check_a11y(page: Any, axe: str, state: str) -> None:
    """axe-core in the page as it is now: zero WCAG 2.1 A/AA violations."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe)
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})",
        AXE_TAGS,
    )
    violations = [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
    ]
    assert not violations, f"axe violations in state {state!r}:\n{json.dumps(violations, indent=1)}"
