// One's own account: who one is, change one's password, list and revoke one's tokens (the one of
// this session too, which signs out), and delete one's account.
import { api, session, signOutLocally } from "./api.js";
import {
  announce, clear, clearFieldError, confirmDialog, errorBox, field, h, pageHead, setBusy,
  showFieldError, table, when,
} from "./ui.js";

function section(id, title, ...body) {
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...body);
}

export async function render(root) {
  const me = session.user;
  const tokensBox = h("div", {}, h("p", { class: "muted" }, "Loading your tokens…"));
  root.append(pageHead("Your account"),
    h("div", { class: "grid" },
      section("acc-who", "Signed in as", h("dl", { class: "meta" },
        h("dt", {}, "Name"), h("dd", {}, me.name),
        h("dt", {}, "Administrator"), h("dd", {}, me.is_admin ? "yes" : "no"),
        h("dt", {}, "Permissions"), h("dd", {}, (me.permissions || []).join(", ") || "none"))),
      section("acc-password", "Change your password", passwordForm(tokensBox))),
    section("acc-tokens", "Your tokens",
      h("p", { class: "muted" }, "Each sign-in (here or from a script) issues a token. Revoke the ones you no longer use; revoking this session’s token signs you out."),
      tokensBox),
    section("acc-delete", "Delete your account", deleteForm(me)));
  await loadTokens(tokensBox);
}

function passwordForm(tokensBox) {
  const current = field({ label: "Current password", name: "current-password", type: "password", required: true, attrs: { autocomplete: "current-password" } });
  const next = field({ label: "New password", name: "new-password", type: "password", required: true,
    hint: "At least 8 characters. Your other tokens are revoked; this session stays signed in.", attrs: { autocomplete: "new-password" } });
  const again = field({ label: "New password again", name: "new-password-again", type: "password", required: true, attrs: { autocomplete: "new-password" } });
  const submit = h("button", { type: "submit" }, "Change password");
  const result = h("div", { "aria-live": "polite" });
  const form = h("form", { novalidate: true }, current.wrap, next.wrap, again.wrap, h("div", { class: "actions" }, submit), result);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const f of [current, next, again]) clearFieldError(f);
    clear(result);
    if (!current.input.value) return showFieldError(current, { message: "Enter your current password." });
    if (!next.input.value) return showFieldError(next, { message: "Enter a new password." });
    if (next.input.value !== again.input.value) return showFieldError(again, { message: "The two new passwords differ." });
    setBusy(submit, true, "Changing…");
    try {
      const r = await api.put("/account/password", { current_password: current.input.value, new_password: next.input.value });
      for (const f of [current, next, again]) f.input.value = "";
      result.append(h("p", { class: "ok-box" }, `Password changed; ${r.detail || "other tokens revoked"}.`));
      announce(`Password changed; ${r.detail || "other tokens revoked"}.`);
      await loadTokens(tokensBox);
    } catch (err) {
      // 401: the current password is wrong; 400 (or 422): the new one is refused.
      showFieldError(err.status === 401 ? current : next, err);
    } finally {
      setBusy(submit, false);
    }
    return undefined;
  });
  return form;
}

async function loadTokens(box) {
  let tokens;
  try {
    tokens = await api.get("/account/tokens");
  } catch (err) {
    clear(box).append(errorBox(err, "Your tokens could not be listed"));
    return;
  }
  clear(box);
  const status = h("div", { "aria-live": "polite" });
  const others = tokens.filter((t) => !t.current);
  const rows = tokens.map((t) => {
    const revoke = h("button", { type: "button", class: t.current ? "danger" : "secondary",
      "aria-label": t.current ? `Revoke this session (token ${t.id}); you are signed out` : `Revoke token ${t.id}` }, t.current ? "Revoke this session" : "Revoke");
    const rowError = h("p", { class: "field-error", hidden: true, role: "alert" });
    revoke.addEventListener("click", async () => {
      if (t.current) {
        const ok = await confirmDialog("Revoke this session’s token?", "You are signed out here at once.", "Revoke this session");
        if (!ok) { revoke.focus(); return; }
      }
      setBusy(revoke, true, "Revoking…");
      try {
        await api.del(`/account/tokens/${encodeURIComponent(t.id)}`);
        if (t.current) {
          signOutLocally("Your token was revoked; you are signed out.");
          return;
        }
        announce(`Token ${t.id} revoked.`);
        await loadTokens(box);
        box.querySelector("table")?.focus();
      } catch (err) {
        setBusy(revoke, false);
        rowError.hidden = false;
        rowError.textContent = err.message;
      }
    });
    return h("tr", { dataset: { token: t.id } },
      h("td", { class: "mono" }, t.id, t.current ? h("strong", {}, " (this session)") : ""),
      h("td", {}, when(t.issued_at)), h("td", {}, when(t.expires_at)),
      h("td", { class: "num" }, String(t.calls_left)), h("td", {}, revoke, rowError));
  });
  const t = table("Your tokens", ["Token id", "Issued", "Expires", ["Calls left", "num"], "Action"], rows, { hideCaption: true });
  t.querySelector("table").setAttribute("tabindex", "-1");
  box.append(t, status);
  if (others.length) {
    const all = h("button", { type: "button", class: "secondary" }, `Revoke the ${others.length} other token${others.length === 1 ? "" : "s"}`);
    all.addEventListener("click", async () => {
      setBusy(all, true, "Revoking…");
      try {
        for (const o of others) await api.del(`/account/tokens/${encodeURIComponent(o.id)}`);
        announce(`Revoked ${others.length} other token${others.length === 1 ? "" : "s"}.`);
        await loadTokens(box);
        box.querySelector("table")?.focus();
      } catch (err) {
        setBusy(all, false);
        clear(status).append(errorBox(err, "Not every token was revoked"));
      }
    });
    box.append(h("div", { class: "actions" }, all));
  }
}

function deleteForm(me) {
  const status = h("div", { "aria-live": "polite" });
  const del = h("button", { type: "button", class: "danger" }, "Delete my account");
  del.addEventListener("click", async () => {
    clear(status);
    const ok = await confirmDialog("Delete your account?", `The account ${me.name} and all its tokens are removed and you are signed out. This cannot be undone.`, "Delete my account");
    if (!ok) { del.focus(); return; }
    try {
      await api.del(`/users/${encodeURIComponent(me.name)}`);
      signOutLocally(`The account ${me.name} was deleted.`);
    } catch (err) {
      status.append(errorBox(err, "Your account was not deleted"));
      del.focus();
    }
  });
  return [h("p", { class: "muted" }, "Your artifacts stay in the registry."), h("div", { class: "actions" }, del), status];
}
