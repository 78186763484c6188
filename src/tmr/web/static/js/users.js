// User administration: list, create with permissions, reset a password (a form dialog), disable
// and enable, delete (with confirmation). Refusals show the API's message in the user's row.
import { api, session } from "./api.js";
import {
  announce, checkboxes, clear, clearFieldError, confirmDialog, errorBox, field, formDialog, h,
  pageHead, setBusy, showFieldError, table,
} from "./ui.js";

const PERMISSIONS = [["search", "Search"], ["download", "Download"], ["upload", "Upload"], ["admin", "Administer"]];

export async function render(root) {
  const list = h("div", {});
  const name = field({ label: "User name", name: "new-name", required: true, attrs: { autocomplete: "off" } });
  const password = field({ label: "Password", name: "new-password", type: "password", required: true,
    hint: "At least 8 characters.", attrs: { autocomplete: "new-password" } });
  const perms = checkboxes("Permissions", "perm", PERMISSIONS, ["search", "download"]);
  const submit = h("button", { type: "submit" }, "Create user");
  const result = h("div", { "aria-live": "polite" });
  const form = h("form", { novalidate: true }, h("div", { class: "row" }, name.wrap, password.wrap), perms.wrap,
    h("div", { class: "actions" }, submit), result);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearFieldError(name);
    clearFieldError(password);
    clear(result);
    if (!name.input.value.trim()) return showFieldError(name, { message: "Enter a user name." });
    if (!password.input.value) return showFieldError(password, { message: "Enter a password." });
    const chosen = perms.values();
    setBusy(submit, true, "Creating…");
    try {
      const user = await api.post("/users", {
        name: name.input.value.trim(), password: password.input.value,
        is_admin: chosen.includes("admin"), permissions: chosen,
      });
      result.append(h("p", { class: "ok-box" }, `Created ${user.name}.`));
      announce(`Created user ${user.name}.`);
      name.input.value = "";
      password.input.value = "";
      await loadList(list);
    } catch (err) {
      showFieldError(/password/i.test(err.message) ? password : name, err);
    } finally {
      setBusy(submit, false);
    }
    return undefined;
  });
  root.append(pageHead("Users"),
    h("section", { class: "card", "aria-labelledby": "new-user" }, h("h2", { id: "new-user" }, "Create a user"), form),
    h("section", { class: "card", "aria-labelledby": "all-users" }, h("h2", { id: "all-users" }, "All users"), list));
  await loadList(list);
}

async function loadList(list) {
  let users;
  try {
    users = await api.get("/users");
  } catch (err) {
    clear(list).append(errorBox(err, "The users could not be listed"));
    return;
  }
  clear(list);
  if (!users.length) {
    list.append(h("p", { class: "empty" }, "No users."));
    return;
  }
  const status = h("div", { "aria-live": "polite" });
  const rows = users.map((u) => userRow(u, list, status));
  const t = table("Registered users", ["Name", "Status", "Administrator", "Permissions", "Actions"], rows, { hideCaption: true });
  t.querySelector("table").setAttribute("tabindex", "-1");
  list.append(t, status);
}

function userRow(u, list, status) {
  const self = session.user && session.user.name === u.name;
  const rowError = h("p", { class: "field-error", role: "alert", hidden: true });
  const fail = (err, what) => {
    rowError.hidden = false;
    rowError.textContent = `${what}: ${err.message}${err.status ? ` (HTTP ${err.status})` : ""}`;
  };
  const reloadAndFocus = async (label) => {
    await loadList(list);
    const again = [...list.querySelectorAll("button")].find((b) => b.getAttribute("aria-label") === label);
    (again || list.querySelector("table"))?.focus();
  };

  const del = h("button", { type: "button", class: "danger", "aria-label": `Delete ${u.name}` }, "Delete");
  del.addEventListener("click", async () => {
    rowError.hidden = true;
    const ok = await confirmDialog(`Delete ${u.name}?`, "The user and their tokens are removed. This cannot be undone.", "Delete user");
    if (!ok) { del.focus(); return; }
    try {
      await api.del(`/users/${encodeURIComponent(u.name)}`);
      announce(`Deleted user ${u.name}.`);
      await loadList(list);
      list.querySelector("table")?.focus();
    } catch (err) {
      fail(err, "Not deleted");
      del.focus();
    }
  });

  const reset = h("button", { type: "button", class: "secondary", "aria-label": `Reset password of ${u.name}` }, "Reset password");
  reset.addEventListener("click", async () => {
    rowError.hidden = true;
    const password = field({ label: "New password", name: "reset-password", type: "password", required: true,
      hint: "At least 8 characters. Tell the user through a safe channel.", attrs: { autocomplete: "new-password" } });
    const done = await formDialog({
      title: `Reset the password of ${u.name}`,
      text: "Every token of this user is revoked; they sign in again with the new password.",
      fields: [password],
      confirmLabel: "Set password",
      submit: async ([value]) => {
        if (!value) throw new Error("Enter a new password.");
        await api.put(`/users/${encodeURIComponent(u.name)}/password`, { new_password: value });
      },
    });
    if (done) {
      clear(status).append(h("p", { class: "ok-box" }, `The password of ${u.name} was reset; their tokens are revoked.`));
      announce(`The password of ${u.name} was reset.`);
    }
  });

  const toggleLabel = `${u.disabled ? "Enable" : "Disable"} ${u.name}`;
  const toggle = h("button", { type: "button", class: "secondary", "aria-label": toggleLabel }, u.disabled ? "Enable" : "Disable");
  toggle.addEventListener("click", async () => {
    rowError.hidden = true;
    if (!u.disabled) {
      const ok = await confirmDialog(`Disable ${u.name}?`, "Their tokens are revoked at once and their sign-ins refused until you enable them again.", "Disable user");
      if (!ok) { toggle.focus(); return; }
    }
    setBusy(toggle, true, u.disabled ? "Enabling…" : "Disabling…");
    try {
      const updated = await api.post(`/users/${encodeURIComponent(u.name)}/${u.disabled ? "enable" : "disable"}`);
      announce(`${u.name} is ${updated.disabled ? "disabled" : "enabled"}.`);
      await reloadAndFocus(`${updated.disabled ? "Enable" : "Disable"} ${u.name}`);
    } catch (err) {
      setBusy(toggle, false);
      fail(err, u.disabled ? "Not enabled" : "Not disabled");
      toggle.focus();
    }
  });

  const actions = self
    ? h("span", { class: "muted" }, "Your own account: see ", h("a", { href: "#/account" }, "Account"))
    : h("div", { class: "actions" }, reset, toggle, del);
  return h("tr", { dataset: { user: u.name } },
    h("td", {}, u.name, self ? " (you)" : ""),
    h("td", {}, h("span", { class: `badge ${u.disabled ? "status-critical" : "status-ok"}` }, u.disabled ? "disabled" : "active")),
    h("td", {}, u.is_admin ? "yes" : "no"),
    h("td", {}, (u.permissions || []).join(", ") || "none"),
    h("td", {}, actions, rowError));
}
