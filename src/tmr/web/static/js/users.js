// User administration: list, create with permissions, delete (with confirmation).
import { api, session } from "./api.js";
import {
  announce, checkboxes, clear, clearFieldError, confirmDialog, errorBox, field, h, pageHead,
  setBusy, showFieldError, table,
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
  const status = h("div", {});
  const rows = users.map((u) => {
    const del = h("button", { type: "button", class: "danger", "aria-label": `Delete ${u.name}` }, "Delete");
    del.addEventListener("click", async () => {
      const ok = await confirmDialog(`Delete ${u.name}?`, "The user and their tokens are removed. This cannot be undone.", "Delete user");
      if (!ok) { del.focus(); return; }
      try {
        await api.del(`/users/${encodeURIComponent(u.name)}`);
        announce(`Deleted user ${u.name}.`);
        await loadList(list);
        list.querySelector("table")?.focus();
      } catch (err) {
        clear(status).append(errorBox(err, `${u.name} was not deleted`));
      }
    });
    const self = session.user && session.user.name === u.name;
    return h("tr", {}, h("td", {}, u.name, self ? " (you)" : ""), h("td", {}, u.is_admin ? "yes" : "no"),
      h("td", {}, (u.permissions || []).join(", ") || "none"), h("td", {}, self ? h("span", { class: "muted" }, "–") : del));
  });
  const t = table("Registered users", ["Name", "Administrator", "Permissions", "Action"], rows, { hideCaption: true });
  t.querySelector("table").setAttribute("tabindex", "-1");
  list.append(t, status);
}
