"""The web interface in a real browser, against `tmr serve` and the upstream replays.

The tests of this module share one registry and run in order (empty registry first). axe-core
checks every state: signed out, signed in, empty, results, error, dialog open.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from typing import Any

import httpx
import pytest

from tests.support.zips import hf_zip
from tests.web.conftest import check_a11y, sign_in

pytestmark = pytest.mark.timeout(300)
HF = "https://huggingface.co"


def nav(page: Any, name: str) -> Any:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def _expect(page: Any) -> Any:
    from playwright.sync_api import expect

    return expect


def test_sign_in_and_out(page, registry_url, axe_source):
    page.goto(f"{registry_url}/")
    # Signed out: the artifacts page sends the visitor to sign in.
    page.get_by_role("heading", name="Sign in").wait_for()
    check_a11y(page, axe_source, "signed out")
    page.get_by_label("User name").fill("ece30861defaultadminuser")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    error = page.locator(".field-error:visible")
    error.wait_for()
    assert "invalid" in error.inner_text()
    assert page.get_by_label("Password").get_attribute("aria-invalid") == "true"
    check_a11y(page, axe_source, "sign-in error")
    sign_in(page, registry_url)
    for item in ("Artifacts", "Register", "Upload", "Users", "Health"):
        assert nav(page, item).is_visible()
    check_a11y(page, axe_source, "signed in")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    assert page.evaluate("() => sessionStorage.getItem('tmr.token')") is None


def test_empty_registry_shows_an_empty_state(page, registry_url, api, axe_source):
    assert api.delete("/reset").status_code == 200
    sign_in(page, registry_url)
    page.get_by_role("heading", name="Nothing here yet").wait_for()
    assert page.get_by_role("link", name="Register by URL").is_visible()
    check_a11y(page, axe_source, "empty registry")


def test_register_by_url_and_its_errors(page, registry_url, axe_source):
    sign_in(page, registry_url)
    nav(page, "Register").click()
    page.get_by_role("heading", name="Register by URL").wait_for()
    url = page.get_by_label("Source URL")
    # An unknown upstream repository: the API's 404 message appears next to the URL field.
    url.fill(f"{HF}/nobody/does-not-exist")
    page.get_by_role("button", name="Register").click()
    error = page.locator(".field-error:visible")
    error.wait_for()
    assert "HTTP 404" in error.inner_text()
    assert url.get_attribute("aria-invalid") == "true"
    check_a11y(page, axe_source, "register error")
    for model in (
        "google-bert/bert-base-uncased",
        "microsoft/resnet-50",
        "crangana/trained-gender",
        "onnx-community/trained-gender-ONNX",
        "arnir0/Tiny-LLM",
    ):
        url.fill(f"{HF}/{model}")
        page.get_by_role("button", name="Register").click()
        page.locator(".ok-box").wait_for()
        assert f"Registered {model.split('/')[1]}" in page.locator(".ok-box").inner_text()
    page.get_by_label("Type").select_option("dataset")
    url.fill(f"{HF}/datasets/rajpurkar/squad")
    page.get_by_role("button", name="Register").click()
    page.get_by_role("link", name="Open squad").wait_for()
    check_a11y(page, axe_source, "registered")


def test_search_modes_type_filter_and_paging(page, registry_url, api, axe_source):
    # 20 more copies of Tiny-LLM so results span two pages of 20.
    for i in range(20):
        r = api.post(
            "/artifact/model", json={"url": f"{HF}/arnir0/Tiny-LLM", "name": f"tiny-{i:02d}"}
        )
        assert r.status_code == 201, r.text
    sign_in(page, registry_url)
    summary = page.locator("#result-summary")
    summary.wait_for()
    assert summary.inner_text().startswith("26 artifacts found; showing 1 to 20")
    assert page.locator("tbody tr").count() == 20
    check_a11y(page, axe_source, "results")
    page.get_by_role("button", name="Next page").click()
    page.wait_for_function(
        "() => document.querySelector('#result-summary').textContent.includes('21 to 26')"
    )
    assert page.locator("tbody tr").count() == 6

    def search(mode: str, text: str, types: tuple[str, ...] = ()) -> list[str]:
        page.get_by_label("Search by").select_option(mode)
        page.get_by_label("Search text").fill(text)
        for t in ("Models", "Datasets", "Code"):
            box = page.get_by_role("checkbox", name=t)
            box.set_checked(t in types)
        page.get_by_role("button", name="Search").click()
        page.wait_for_function("() => !document.querySelector('button[aria-busy]')")
        return [a.inner_text() for a in page.locator("tbody td:first-child a").all()]

    assert search("regex", "^bert") == ["bert-base-uncased"]
    assert set(search("regex", "gender")) == {"trained-gender", "trained-gender-ONNX"}
    assert search("name", "squad") == ["squad"]
    assert search("all", "", ("Datasets",)) == ["squad"]
    assert search("name", "squad", ("Models",)) == []
    page.get_by_role("heading", name="Nothing here yet").wait_for()
    # A malformed version query: the 400 message appears next to the search field.
    search("version", "not-a-version")
    error = page.locator(".field-error:visible")
    error.wait_for()
    assert "HTTP 400" in error.inner_text()
    check_a11y(page, axe_source, "search error")


def test_upload_a_zip_with_progress(page, registry_url, tmp_path, axe_source):
    archive = tmp_path / "acme-classifier.zip"
    archive.write_bytes(hf_zip(name="acme-classifier", weights=os.urandom(3_000_000)))
    sign_in(page, registry_url)
    nav(page, "Upload").click()
    page.get_by_role("heading", name="Upload a zip").wait_for()
    check_a11y(page, axe_source, "upload form")
    page.get_by_role("button", name="Upload").click()
    page.locator(".field-error:visible").wait_for()
    assert "Choose a zip file" in page.locator(".field-error:visible").inner_text()
    page.get_by_label("Zip file").set_input_files(str(archive))
    page.get_by_label("Name (optional)").fill("acme-classifier")
    page.get_by_role("button", name="Upload").click()
    page.get_by_role("link", name="Open acme-classifier").wait_for()
    page.get_by_role("link", name="Open acme-classifier").click()
    page.get_by_role("heading", name=re.compile("acme-classifier")).wait_for()


def _open(page: Any, registry_url: str, name: str) -> None:
    nav(page, "Artifacts").click()
    page.get_by_label("Search by").select_option("name")
    page.get_by_label("Search text").fill(name)
    page.get_by_role("button", name="Search").click()
    page.locator("tbody").get_by_role("link", name=name, exact=True).click()
    page.get_by_role("heading", name=re.compile(f"^{re.escape(name)}")).wait_for()


def test_rating_chart_evidence_and_lineage_graph(page, registry_url, axe_source):
    sign_in(page, registry_url)
    _open(page, registry_url, "trained-gender")
    page.locator("section[aria-labelledby=sec-rating] canvas").scroll_into_view_if_needed()
    canvas = "document.querySelector('section[aria-labelledby=sec-rating] canvas')"
    page.wait_for_function(f"() => window.Chart && Chart.getChart({canvas})")
    chart = page.evaluate(f"() => Chart.getChart({canvas}).data.labels")
    assert len(chart) == 12 and chart[0] == "Net score"
    # The text alternative: every metric with its score, expandable to its evidence.
    license_row = page.locator("details[data-metric=license]")
    license_row.locator("summary").click()
    evidence = license_row.locator("pre.evidence")
    assert '"normalized"' in evidence.inner_text()
    check_a11y(page, axe_source, "rating evidence open")
    # Lineage: resnet-50 -> trained-gender -> trained-gender-ONNX, nodes are links.
    page.locator(".lineage-svg").scroll_into_view_if_needed()
    graph = page.locator(".lineage-svg svg")
    graph.wait_for()
    assert graph.locator("a").count() == 3
    links = page.get_by_role("list", name="Lineage links")
    assert "resnet-50 is the base model of trained-gender" in links.inner_text()
    check_a11y(page, axe_source, "lineage")
    graph.locator("a", has_text="resnet-50").click()
    page.get_by_role("heading", name=re.compile("^resnet-50")).wait_for()
    # Cost with and without dependencies, and the license check.
    _open(page, registry_url, "trained-gender")
    cost = page.locator("section[aria-labelledby=sec-cost]")
    _expect(page)(cost).to_contain_text("with dependencies")
    page.get_by_label("GitHub repository URL").fill("https://github.com/google-research/bert")
    page.get_by_role("button", name="Check").click()
    verdict = page.locator("section[aria-labelledby=sec-license-check] .ok-box")
    _expect(page)(verdict).to_contain_text("Compatible")
    audit = page.locator("section[aria-labelledby=sec-audit-trail]")
    _expect(page)(audit).to_contain_text("CREATE")


def test_download_a_part(page, registry_url, axe_source):
    sign_in(page, registry_url)
    _open(page, registry_url, "acme-classifier")
    # A link to the part's signed URL: the browser streams the file to disk (no fetch into memory).
    link = page.get_by_role("link", name=re.compile(r"^Download Weights"))
    href = link.get_attribute("href")
    assert "signature=" in href and "part=weights" in href
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == "acme-classifier-weights.zip"
    with zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read())) as z:
        names = z.namelist()
        assert any(n.endswith(".safetensors") or n.endswith(".bin") for n in names), names
    page.locator(".ok-box", has_text="Download of Weights (3.0 MB) started").wait_for()
    # The same link works without a token (copied to curl), and is refused once tampered with.
    assert httpx.get(href, timeout=60).status_code == 200
    assert httpx.get(href.replace("part=weights", "part=all"), timeout=60).status_code == 403
    check_a11y(page, axe_source, "downloaded")


def test_protections_lifecycle_monitor_history_and_confusion_audit(page, registry_url, axe_source):
    sign_in(page, registry_url)
    _open(page, registry_url, "resnet-50")
    life = page.locator("section[aria-labelledby=sec-safety-and-lifecycle]")
    _expect(page)(life).to_contain_text("active")
    life.get_by_label("New state").select_option("deprecated")
    life.get_by_label("Reason").fill("superseded by resnet-101")
    life.get_by_role("button", name="Change state").click()
    _expect(page)(life.locator("dd").first).to_contain_text("deprecated superseded by resnet-101")
    # Its descendants carry a warning in the listing.
    nav(page, "Artifacts").click()
    page.get_by_label("Search by").select_option("regex")
    page.get_by_label("Search text").fill("gender")
    page.get_by_role("button", name="Search").click()
    row = page.locator("tbody tr", has_text="trained-gender-ONNX")
    _expect(page)(row).to_contain_text("resnet-50")
    # A monitoring program that refuses: the download shows the program's message.
    _open(page, registry_url, "trained-gender")
    monitor = page.locator("section[aria-labelledby=sec-monitoring-program]")
    _expect(page)(monitor).to_contain_text("No monitoring program")
    monitor.get_by_label("JavaScript program").fill(
        'console.log("downloads of " + process.argv[2] + " are paused"); process.exit(3);'
    )
    monitor.get_by_role("button", name="Add program").click()
    _expect(page)(monitor).to_contain_text("Uploaded by ece30861defaultadminuser")
    page.get_by_role("link", name=re.compile(r"^Download Model card")).click()
    refusal = page.locator("section[aria-labelledby=sec-download] .error-box")
    _expect(page)(refusal).to_contain_text("are paused")
    check_a11y(page, axe_source, "download refused")
    monitor.get_by_role("button", name="Remove program").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    _expect(page)(monitor).to_contain_text("No monitoring program")
    page.reload()
    history = page.locator("section[aria-labelledby=sec-download-history]")
    _expect(page)(history).to_contain_text("refused")
    # The package-confusion audit page.
    nav(page, "Confusion audit").click()
    page.get_by_role("heading", name="Package-confusion audit").wait_for()
    page.locator("main .card").nth(1).wait_for()
    check_a11y(page, axe_source, "confusion audit")


def test_update_and_delete_with_confirmation(page, registry_url, api, axe_source):
    sign_in(page, registry_url)
    _open(page, registry_url, "tiny-00")
    url = page.get_by_label("Source URL")
    url.fill(f"{HF}/nobody/not-there")
    page.get_by_role("button", name="Update").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    check_a11y(page, axe_source, "dialog open")
    dialog.get_by_role("button", name="Update").click()
    page.locator(".field-error:visible").wait_for()
    assert "HTTP 404" in page.locator(".field-error:visible").inner_text()
    url.fill(f"{HF}/arnir0/Tiny-LLM")
    page.get_by_role("button", name="Update").click()
    dialog.get_by_role("button", name="Update").click()
    audit = page.locator("section[aria-labelledby=sec-audit-trail]")
    _expect(page)(audit).to_contain_text("UPDATE")
    page.get_by_role("button", name="Delete artifact").click()
    dialog.wait_for()
    dialog.get_by_role("button", name="Cancel").click()
    assert page.get_by_role("heading", name=re.compile("^tiny-00")).is_visible()
    _expect(page)(page.get_by_role("button", name="Delete artifact")).to_be_focused()
    page.get_by_role("button", name="Delete artifact").click()
    dialog.get_by_role("button", name="Delete").click()
    page.get_by_role("heading", name="Artifacts").wait_for()
    assert api.get("/artifact/byName/tiny-00").status_code == 404


def test_user_administration_and_permission_shaped_pages(
    page, browser, registry_url, api, axe_source
):
    sign_in(page, registry_url)
    nav(page, "Users").click()
    page.get_by_role("heading", name="Users", exact=True).wait_for()
    page.get_by_label("User name").fill("reader")
    page.get_by_label("Password").fill("reader-password-1")
    page.get_by_role("checkbox", name="Download").uncheck()
    page.get_by_role("button", name="Create user").click()
    page.locator(".ok-box", has_text="Created reader").wait_for()
    row = page.locator("tbody tr", has_text="reader")
    assert "search" in row.inner_text() and "download" not in row.inner_text()
    check_a11y(page, axe_source, "users")
    # The new user sees only what their permissions allow.
    other = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        p2 = other.new_page()
        sign_in(p2, registry_url, "reader", "reader-password-1")
        menu = p2.get_by_role("navigation", name="Main")
        assert menu.get_by_role("link", name="Artifacts").is_visible()
        for hidden in ("Register", "Upload", "Users"):
            assert menu.get_by_role("link", name=hidden).count() == 0
        p2.locator("tbody td:first-child a").first.click()
        p2.get_by_text("Your account cannot download").wait_for()
        assert p2.get_by_role("button", name="Delete artifact").count() == 0
        p2.goto(f"{registry_url}/#/users")
        p2.get_by_role("heading", name="Not allowed").wait_for()
    finally:
        other.close()
    row.get_by_role("button", name="Delete reader").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete user").click()
    _expect(page)(page.locator("tbody tr", has_text="reader")).to_have_count(0)
    assert all(u["name"] != "reader" for u in api.get("/users").json())


def _model_count(api: httpx.Client) -> int:
    count, offset = 0, None
    while True:
        r = api.post("/artifacts", params={"offset": offset} if offset else None,
                     json=[{"name": "*", "types": ["model"]}])  # fmt: skip
        count += len(r.json())
        offset = r.headers.get("offset")
        if not offset:
            return count


def test_health_dashboard_logs_and_workload(page, registry_url, api, axe_source):
    sign_in(page, registry_url)
    nav(page, "Health").click()
    page.get_by_role("heading", name="Health", exact=True).wait_for()
    page.locator("[data-component=api]").wait_for()
    for component in ("api", "database", "blob-store", "ingest", "downloads"):
        assert page.locator(f"[data-component={component}] .badge").inner_text() in (
            "ok",
            "degraded",
        )
    page.wait_for_function("() => window.Chart && document.querySelectorAll('canvas').length === 3")
    routes = page.get_by_role("table", name="Requests, errors and latency per route")
    _expect(page)(routes).to_contain_text("POST /artifact/{artifact_type}")
    # Auto-refresh can be paused (WCAG 2.2.2).
    pause = page.get_by_role("button", name="Pause auto-refresh")
    pause.click()
    assert (
        page.get_by_role("button", name="Resume auto-refresh").get_attribute("aria-pressed")
        == "true"
    )
    # The log viewer, filtered by level, then by one request id.
    # The log lines load when their section comes on screen.
    page.locator("section[aria-labelledby=h-logs]").scroll_into_view_if_needed()
    logs = page.get_by_role("region", name="Log lines, newest first")
    logs.wait_for()
    page.get_by_label("Lowest level").select_option("warning")
    page.get_by_role("button", name="Show log lines").click()
    page.wait_for_function("() => !document.querySelector('button[aria-busy]')")
    levels = {t.strip() for t in page.locator(".logs tbody td:nth-child(2)").all_inner_texts()}
    assert levels <= {"warning", "error", "critical"}
    page.get_by_label("Lowest level").select_option("")
    page.get_by_role("button", name="Show log lines").click()
    page.wait_for_function("() => !document.querySelector('button[aria-busy]')")
    first = page.locator(".logs tbody tr").first.locator("button.link")
    rid = first.inner_text()
    first.click()
    _expect(page)(page.get_by_label("Request id")).to_have_value(rid)
    page.wait_for_function(
        "rid => [...document.querySelectorAll('.logs tbody td:nth-child(3)')]"
        ".every(td => td.textContent === rid)",
        arg=rid,
    )
    check_a11y(page, axe_source, "dashboard")
    # The workload: tmr bench downloads' own code, here at a small scale (the defaults are the
    # reference 500 models and 100 clients): the registry is seeded to 30 models, then 5 clients
    # run the download flow on Tiny-LLM for 3 seconds.
    assert page.get_by_label("Models in the registry").input_value() == "500"
    assert page.get_by_label("Clients").input_value() == "100"
    page.get_by_label("Models in the registry").fill("0")
    page.get_by_role("button", name="Run download workload").click()
    _expect(page)(page.locator(".field-error:visible")).to_contain_text("HTTP 400")
    assert page.get_by_label("Models in the registry").get_attribute("aria-invalid") == "true"
    before = _model_count(api)
    assert before < 30
    page.get_by_label("Models in the registry").fill("30")
    page.get_by_label("Clients").fill("5")
    page.get_by_label("Seconds").fill("3")
    page.get_by_role("button", name="Run download workload").click()
    _expect(page)(page.locator(".progress")).to_contain_text("Downloading:", timeout=120_000)
    result = page.get_by_role("table", name="Workload result")
    result.wait_for(timeout=120_000)
    text = result.inner_text()
    assert "30 models, 5 clients" in text
    assert re.search(r"Downloads\s+[1-9]\d* \(0 failed\)", text), text
    assert re.search(r"Throughput\s+[\d.]+ downloads/s", text)
    for row in ("Mean latency", "Median latency", "p99 latency"):
        assert row in text
    assert _model_count(api) == 30
    check_a11y(page, axe_source, "workload finished")


def test_phone_width_layout(browser, registry_url, axe_source):
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    try:
        page = context.new_page()
        sign_in(page, registry_url)
        page.locator("#result-summary").wait_for()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 380, f"horizontal scrolling at phone width: {width}px"
        check_a11y(page, axe_source, "phone")
        from tests.web.conftest import SHOTS

        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "test_phone_width_layout.png"), full_page=True)
    finally:
        context.close()


def test_keyboard_only_register_search_download(page, registry_url, api):
    """No mouse: Tab, Shift+Tab, Enter, Space, arrow keys and typing only."""
    kb = page.keyboard
    page.goto(f"{registry_url}/#/signin")
    page.get_by_role("heading", name="Sign in").wait_for()

    def tab_to(predicate_js: str, limit: int = 60, back: bool = False) -> None:
        for _ in range(limit):
            kb.press("Shift+Tab" if back else "Tab")
            if page.evaluate(
                f"() => {{ const el = document.activeElement; return !!el && ({predicate_js}); }}"
            ):
                return
        raise AssertionError(f"could not reach {predicate_js} with the keyboard")

    def focused_is_visible() -> None:
        outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", "the focused element shows no focus indicator"

    tab_to("el.name === 'username'")
    kb.type("ece30861defaultadminuser")
    kb.press("Tab")
    kb.type("correcthorsebatterystaple123(!__+@**(A'\"`;DROP TABLE artifacts;")
    kb.press("Enter")
    page.get_by_role("button", name="Sign out").wait_for()
    # Register a model.
    tab_to("el.textContent === 'Register' && el.tagName === 'A'")
    focused_is_visible()
    kb.press("Enter")
    page.get_by_role("heading", name="Register by URL").wait_for()
    tab_to("el.name === 'url'")
    kb.type(f"{HF}/google/gemma-3-270m")
    kb.press("Tab")
    kb.type("keyboard-gemma")
    kb.press("Enter")
    page.get_by_role("link", name="Open keyboard-gemma").wait_for()
    # Search for it.
    tab_to("el.textContent === 'Artifacts' && el.tagName === 'A'", back=True)
    kb.press("Enter")
    page.get_by_role("heading", name="Artifacts").wait_for()
    tab_to("el.name === 'mode'")
    kb.press("ArrowDown")
    kb.press("ArrowDown")  # "Exact name"
    assert page.get_by_label("Search by").input_value() == "name"
    kb.press("Tab")
    kb.type("keyboard-gemma")
    kb.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('#result-summary')?.textContent.startsWith('1 artifact')"
    )
    tab_to("el.tagName === 'A' && el.textContent === 'keyboard-gemma'")
    kb.press("Enter")
    page.get_by_role("heading", name=re.compile("^keyboard-gemma")).wait_for()
    # Download its card with the keyboard.
    tab_to("(el.getAttribute('aria-label') || '').startsWith('Download Model card')")
    focused_is_visible()
    with page.expect_download() as info:
        kb.press("Enter")
    assert info.value.suggested_filename == "keyboard-gemma-card.zip"
    # The download is in the audit trail.
    found = api.get("/artifact/byName/keyboard-gemma").json()[0]
    audit = api.get(f"/artifact/model/{found['id']}/audit").json()
    assert any(e["action"] == "DOWNLOAD" for e in audit)


def test_served_assets_are_in_the_package_and_compressed(registry_url):
    r = httpx.get(
        f"{registry_url}/static/vendor/chart.umd.min.js", headers={"accept-encoding": "gzip"}
    )
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    index = httpx.get(f"{registry_url}/").text
    assert "cdn" not in index.lower() and "https://" not in index
