"""The atomic-groups page in a real browser: open a group, add register-by-URL, upload, update
and delete commands (a refused command's message at its field), execute it (all committed), and a
group whose execution fails (nothing changed). axe-core checks each state.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.zips import hf_zip
from tests.web.conftest import check_a11y, sign_in

pytestmark = pytest.mark.timeout(300)
HF = "https://huggingface.co"


def nav(page: Any, name: str) -> Any:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _open_group(page: Any) -> str:
    nav(page, "Groups").click()
    page.get_by_role("heading", name="Atomic groups").wait_for()
    page.get_by_role("button", name="Open a new group").click()
    page.get_by_role("heading", name=re.compile(r"^Group [0-9a-f-]+")).wait_for()
    return page.evaluate("() => location.hash.split('/').pop()")


def _add(page: Any, op: str, **fields: str) -> None:
    form = page.locator("section[aria-labelledby=grp-add]")
    form.get_by_label("Command").select_option(op)
    if "type" in fields:
        form.get_by_label("Type").select_option(fields["type"])
    if "url" in fields:
        form.get_by_label("Source URL").fill(fields["url"])
    if "id" in fields:
        form.get_by_label("Artifact id").fill(fields["id"])
    if "name" in fields:
        form.get_by_label("Name (optional)").fill(fields["name"])
    if "file" in fields:
        form.get_by_label("Zip file").set_input_files(fields["file"])
    form.get_by_role("button", name="Add command").click()


def test_build_execute_and_see_a_committed_group(page, registry_url, api, tmp_path, axe_source):
    old = api.post(
        "/artifact/model/upload",
        data={"name": "old-model"},
        files={"file": ("old.zip", hf_zip(name="old-model"), "application/zip")},
    )
    assert old.status_code == 201, old.text
    old_id = old.json()["metadata"]["id"]
    archive = tmp_path / "group-upload.zip"
    archive.write_bytes(hf_zip(name="group-upload"))
    sign_in(page, registry_url)
    group = _open_group(page)
    _expect()(page.locator("#group-status")).to_have_text("open")
    assert page.get_by_role("button", name="Execute group").is_disabled()
    check_a11y(page, axe_source, "group empty")
    # A malformed URL is refused when added: the API's message at the URL field.
    _add(page, "register", url="not a url")
    error = page.locator(".field-error:visible")
    _expect()(error).to_contain_text("HTTP 400")
    assert page.get_by_label("Source URL").get_attribute("aria-invalid") == "true"
    check_a11y(page, axe_source, "group command refused")
    _add(page, "register", url=f"{HF}/google-bert/bert-base-uncased")
    commands = page.locator("section[aria-labelledby=grp-commands] tbody tr")
    _expect()(commands).to_have_count(1)
    _add(page, "upload", type="model", file=str(archive), name="group-upload")
    _expect()(commands).to_have_count(2)
    _add(page, "delete", type="model", id=old_id)
    _expect()(commands).to_have_count(3)
    # One command per artifact: a second one on the same artifact is refused at the id field.
    _add(page, "update", id=old_id, url=f"{HF}/google-bert/bert-base-uncased")
    _expect()(page.locator(".field-error:visible")).to_contain_text("one command per artifact")
    assert page.get_by_label("Artifact id").get_attribute("aria-invalid") == "true"
    _expect()(commands).to_have_count(3)
    check_a11y(page, axe_source, "group with commands")
    # Nothing is visible before the group executes.
    assert api.get("/artifact/byName/group-upload").status_code == 404
    page.get_by_role("button", name="Execute group").click()
    dialog = page.get_by_role("dialog")
    _expect()(dialog).to_contain_text("Execute 3 commands?")
    dialog.get_by_role("button", name="Execute").click()
    _expect()(page.locator(".ok-box")).to_contain_text("Committed: all 3 changes", timeout=60_000)
    _expect()(page.locator("#group-status")).to_have_text("committed")
    assert page.locator("section[aria-labelledby=grp-add]").count() == 0  # executes once
    assert page.get_by_role("link", name="Open group-upload").is_visible()
    check_a11y(page, axe_source, "group committed")
    assert api.get("/artifact/byName/group-upload").status_code == 200
    assert api.get("/artifact/byName/bert-base-uncased").status_code == 200
    assert api.get(f"/artifacts/model/{old_id}").status_code == 404
    # The list of groups shows it.
    nav(page, "Groups").click()
    row = page.locator("tbody tr", has_text=group)
    _expect()(row).to_contain_text("committed")
    check_a11y(page, axe_source, "groups list")


def test_a_failing_group_changes_nothing_and_says_why(page, registry_url, api, axe_source):
    sign_in(page, registry_url)
    _open_group(page)
    _add(page, "register", type="model", url=f"{HF}/microsoft/resnet-50", name="resnet-in-group")
    _add(page, "register", type="model", url=f"{HF}/nobody/does-not-exist")
    commands = page.locator("section[aria-labelledby=grp-commands] tbody tr")
    _expect()(commands).to_have_count(2)
    page.get_by_role("button", name="Execute group").click()
    page.get_by_role("dialog").get_by_role("button", name="Execute").click()
    failure = page.locator("section[aria-labelledby=grp-details] .error-box")
    _expect()(failure).to_contain_text("nothing was changed", timeout=60_000)
    _expect()(failure).to_contain_text("HTTP 404")
    _expect()(page.locator("#group-status")).to_have_text("failed")
    check_a11y(page, axe_source, "group failed")
    assert api.get("/artifact/byName/resnet-in-group").status_code == 404


def test_keyboard_only_group(page, registry_url, api):
    """Open a group, add a registration and execute it with Tab, typing and Enter only."""
    kb = page.keyboard
    sign_in(page, registry_url)

    def tab_to(predicate_js: str, limit: int = 80, back: bool = False) -> None:
        for _ in range(limit):
            kb.press("Shift+Tab" if back else "Tab")
            if page.evaluate(
                f"() => {{ const el = document.activeElement; return !!el && ({predicate_js}); }}"
            ):
                return
        raise AssertionError(f"could not reach {predicate_js} with the keyboard")

    tab_to("el.tagName === 'A' && el.textContent === 'Groups'")
    kb.press("Enter")
    page.get_by_role("heading", name="Atomic groups").wait_for()
    tab_to("el.textContent === 'Open a new group'")
    kb.press("Enter")
    page.get_by_role("heading", name=re.compile(r"^Group [0-9a-f-]+")).wait_for()
    tab_to("el.name === 'grp-url'")
    kb.type(f"{HF}/google/gemma-3-270m")
    kb.press("Tab")
    kb.type("keyboard-group-gemma")
    kb.press("Enter")
    _expect()(page.locator("section[aria-labelledby=grp-commands] tbody tr")).to_have_count(1)
    tab_to("el.textContent === 'Execute group'")
    kb.press("Enter")
    page.get_by_role("dialog").wait_for()
    kb.press("Tab")  # from Cancel to Execute
    kb.press("Enter")
    _expect()(page.locator("#group-status")).to_have_text("committed", timeout=60_000)
    assert api.get("/artifact/byName/keyboard-group-gemma").status_code == 200
