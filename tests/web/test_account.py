"""Account and security pages in a real browser: one's password and tokens, signing out (the
token revoked server-side), and for administrators password resets, disabling and enabling
users, and the security log. axe-core checks each state.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.web.conftest import check_a11y, sign_in

pytestmark = pytest.mark.timeout(300)


def nav(page: Any, name: str) -> Any:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def _expect() -> Any:
    from playwright.sync_api import expect

    return expect


def _login(base: str, name: str, password: str) -> httpx.Response:
    return httpx.put(
        f"{base}/authenticate",
        json={"user": {"name": name, "is_admin": False}, "secret": {"password": password}},
        timeout=60,
    )


def _me(base: str, token: str) -> int:
    return httpx.get(f"{base}/users/me", headers={"X-Authorization": token}, timeout=60).status_code


@pytest.fixture(scope="module")
def alice(registry_url: str, token: str) -> str:
    r = httpx.post(
        f"{registry_url}/users",
        headers={"X-Authorization": token},
        json={"name": "alice", "password": "alice-pass-1", "permissions": ["search"]},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    return "alice"


def test_own_password_tokens_and_sign_out_revokes_the_token(page, registry_url, alice, axe_source):
    other = _login(registry_url, alice, "alice-pass-1").json()  # a second token, from a script
    sign_in(page, registry_url, alice, "alice-pass-1")
    menu = page.get_by_role("navigation", name="Main")
    assert menu.get_by_role("link", name="Security log").count() == 0  # admins only
    nav(page, "Account").click()
    page.get_by_role("heading", name="Your account", exact=True).wait_for()
    tokens = page.get_by_role("table", name="Your tokens")
    _expect()(tokens.locator("tbody tr")).to_have_count(2)
    _expect()(tokens).to_contain_text("(this session)")
    check_a11y(page, axe_source, "account")
    # A wrong current password: the API's 401 message next to that field.
    page.get_by_label("Current password").fill("not-my-password")
    page.get_by_label("New password", exact=True).fill("alice-pass-2")
    page.get_by_label("New password again").fill("alice-pass-2")
    page.get_by_role("button", name="Change password").click()
    error = page.locator(".field-error:visible")
    error.wait_for()
    assert "the current password is wrong" in error.inner_text()
    assert page.get_by_label("Current password").get_attribute("aria-invalid") == "true"
    check_a11y(page, axe_source, "account password error")
    # A new password too short for the registry: its 400 message next to the new password.
    page.get_by_label("Current password").fill("alice-pass-1")
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("New password again").fill("short")
    page.get_by_role("button", name="Change password").click()
    _expect()(page.locator(".field-error:visible")).to_contain_text("8")
    assert page.get_by_label("New password", exact=True).get_attribute("aria-invalid") == "true"
    # The right one: changed, the other token revoked, this session kept.
    page.get_by_label("New password", exact=True).fill("alice-pass-2")
    page.get_by_label("New password again").fill("alice-pass-2")
    page.get_by_role("button", name="Change password").click()
    _expect()(page.locator(".ok-box")).to_contain_text("1 other tokens revoked")
    _expect()(tokens.locator("tbody tr")).to_have_count(1)
    assert _me(registry_url, other) == 403
    assert _login(registry_url, alice, "alice-pass-2").status_code == 200
    page.reload()
    page.get_by_role("heading", name="Your account", exact=True).wait_for()
    _expect()(tokens.locator("tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Revoke the 1 other token").click()
    _expect()(tokens.locator("tbody tr")).to_have_count(1)
    _expect()(page.locator("#announcer")).to_contain_text("Revoked 1 other token")
    # Sign out: the registry revokes the token, not just the tab forgetting it.
    mine = page.evaluate("() => sessionStorage.getItem('tmr.token')")
    assert _me(registry_url, mine) == 200
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    _expect()(page.locator(".ok-box")).to_contain_text("revoked your token")
    _expect()(page.locator("#announcer")).to_contain_text("revoked your token")
    assert _me(registry_url, mine) == 403
    check_a11y(page, axe_source, "signed out with notice")


def test_revoking_this_sessions_token_signs_out(page, registry_url, alice):
    sign_in(page, registry_url, alice, "alice-pass-2")
    page.goto(f"{registry_url}/#/account")
    page.get_by_role("button", name="Revoke this session").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke this session").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    assert page.evaluate("() => sessionStorage.getItem('tmr.token')") is None


def test_admin_resets_disables_enables_and_reads_the_security_log(
    page, registry_url, alice, axe_source
):
    sign_in(page, registry_url)
    nav(page, "Users").click()
    row = page.locator("tbody tr[data-user=alice]")
    row.wait_for()
    _expect()(row).to_contain_text("active")
    # Reset alice's password in the dialog; a too-short one shows the API's message there.
    row.get_by_role("button", name="Reset password of alice").click()
    dialog = page.get_by_role("dialog", name="Reset the password of alice")
    dialog.get_by_label("New password").fill("short")
    dialog.get_by_role("button", name="Set password").click()
    _expect()(dialog.locator(".field-error")).to_contain_text("at least 8 characters")
    check_a11y(page, axe_source, "reset password dialog error")
    dialog.get_by_label("New password").fill("alice-pass-3")
    dialog.get_by_role("button", name="Set password").click()
    _expect()(page.locator(".ok-box")).to_contain_text("The password of alice was reset")
    _expect()(row.get_by_role("button", name="Reset password of alice")).to_be_focused()
    assert _login(registry_url, alice, "alice-pass-3").status_code == 200
    # Disable: the confirmation, then the row says so and alice cannot sign in.
    row.get_by_role("button", name="Disable alice").click()
    page.get_by_role("dialog").get_by_role("button", name="Disable user").click()
    _expect()(row).to_contain_text("disabled")
    _expect()(row.get_by_role("button", name="Enable alice")).to_be_focused()
    assert _login(registry_url, alice, "alice-pass-3").status_code == 401
    check_a11y(page, axe_source, "user disabled")
    row.get_by_role("button", name="Enable alice").click()
    _expect()(row).to_contain_text("active")
    assert _login(registry_url, alice, "alice-pass-3").status_code == 200
    # The own row offers no disabling (the account page does one's own account).
    own = page.locator("tbody tr", has_text="(you)")
    assert own.get_by_role("button").count() == 0
    # The security log: everything, then only the disables.
    nav(page, "Security log").click()
    page.get_by_role("heading", name="Security log").wait_for()
    events = page.get_by_role("table", name="Security events, oldest first")
    _expect()(events).to_contain_text("PASSWORD_RESET")
    check_a11y(page, axe_source, "security log")
    page.get_by_label("Action").select_option("USER_DISABLE")
    page.get_by_role("button", name="Show events").click()
    _expect()(page.locator("#security-summary")).to_contain_text("1 event shown")
    assert "alice" in events.locator("tbody tr").inner_text()


def test_refusals_show_the_apis_message_in_the_row(page, registry_url, token, axe_source):
    # A second administrator cannot disable the default administrator: the API says why.
    r = httpx.post(
        f"{registry_url}/users",
        headers={"X-Authorization": token},
        json={"name": "second-admin", "password": "second-pass-1", "is_admin": True,
              "permissions": ["admin"]},  # fmt: skip
        timeout=60,
    )
    assert r.status_code == 201, r.text
    sign_in(page, registry_url, "second-admin", "second-pass-1")
    nav(page, "Users").click()
    row = page.locator("tbody tr[data-user=ece30861defaultadminuser]")
    row.get_by_role("button", name="Disable ece30861defaultadminuser").click()
    page.get_by_role("dialog").get_by_role("button", name="Disable user").click()
    refusal = row.locator(".field-error")
    _expect()(refusal).to_contain_text("the default administrator cannot be disabled")
    _expect()(refusal).to_contain_text("HTTP 400")
    check_a11y(page, axe_source, "refused in the row")


def test_a_user_without_admin_cannot_open_the_security_log(page, registry_url, alice):
    sign_in(page, registry_url, alice, "alice-pass-3")
    page.goto(f"{registry_url}/#/security")
    page.get_by_role("heading", name="Not allowed").wait_for()


def test_keyboard_only_password_change_and_sign_out(page, registry_url, token):
    """Change one's password and sign out with Tab, typing and Enter only."""
    r = httpx.post(
        f"{registry_url}/users",
        headers={"X-Authorization": token},
        json={"name": "kim", "password": "kim-pass-1", "permissions": ["search"]},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    kb = page.keyboard
    sign_in(page, registry_url, "kim", "kim-pass-1")

    def tab_to(predicate_js: str, limit: int = 80, back: bool = False) -> None:
        for _ in range(limit):
            kb.press("Shift+Tab" if back else "Tab")
            if page.evaluate(
                f"() => {{ const el = document.activeElement; return !!el && ({predicate_js}); }}"
            ):
                return
        raise AssertionError(f"could not reach {predicate_js} with the keyboard")

    tab_to("el.tagName === 'A' && el.textContent === 'Account'")
    kb.press("Enter")
    page.get_by_role("heading", name="Your account", exact=True).wait_for()
    tab_to("el.name === 'current-password'")
    kb.type("kim-pass-1")
    kb.press("Tab")
    kb.type("kim-pass-2")
    kb.press("Tab")
    kb.type("kim-pass-2")
    kb.press("Enter")
    _expect()(page.locator(".ok-box")).to_contain_text("Password changed")
    mine = page.evaluate("() => sessionStorage.getItem('tmr.token')")
    tab_to("el.textContent === 'Sign out'", back=True)
    kb.press("Enter")
    page.get_by_role("heading", name="Sign in").wait_for()
    assert _me(registry_url, mine) == 403
    assert _login(registry_url, "kim", "kim-pass-2").status_code == 200
