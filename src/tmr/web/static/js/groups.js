// Atomic groups (REQUIREMENTS §1.7): open a group, append register-by-URL, upload, update and
// delete commands (each checked by the API as it is added), see the list, execute it (every
// change visible together, or none), and read its status and results.
import { api, uploadWithProgress } from "./api.js";
import {
  announce, bytes, clear, clearFieldError, confirmDialog, errorBox, field, h, pageHead,
  selectField, setBusy, showFieldError, table, titleWithBadge, when,
} from "./ui.js";

const TYPES = [["model", "Model"], ["dataset", "Dataset"], ["code", "Code"]];
const OPS = [
  ["register", "Register by URL"], ["upload", "Upload a zip"],
  ["update", "Update from a URL"], ["delete", "Delete an artifact"],
];
const STATUS_CLASS = { open: "status-degraded", executing: "status-degraded", committed: "status-ok", failed: "status-critical", expired: "status-critical" };

function statusBadge(status) {
  return h("span", { class: `badge ${STATUS_CLASS[status] || ""}` }, status);
}

function section(id, title, ...body) {
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...body);
}

/** #/groups: open a new group; the caller's groups (admins: everyone's). */
export async function render(root) {
  const open = h("button", { type: "button" }, "Open a new group");
  const openStatus = h("div", { "aria-live": "polite" });
  open.addEventListener("click", async () => {
    clear(openStatus);
    setBusy(open, true, "Opening…");
    try {
      const g = await api.post("/groups");
      announce(`Group ${g.id} opened.`);
      window.location.hash = `#/groups/${g.id}`;
    } catch (err) {
      setBusy(open, false);
      openStatus.append(errorBox(err, "The group was not opened"));
    }
  });
  const list = h("div", {}, h("p", { class: "muted" }, "Loading your groups…"));
  root.append(pageHead("Atomic groups"),
    section("grp-new", "A new group",
      h("p", { class: "muted" }, "A group collects registrations, uploads, updates and deletes, checks each as you add it, and applies them all at once when you execute it: either every change becomes visible together, or none does. An open group expires if it is not executed in time."),
      h("div", { class: "actions" }, open), openStatus),
    section("grp-list", "Your groups", list));
  let groups;
  try {
    groups = await api.get("/groups");
  } catch (err) {
    clear(list).append(errorBox(err, "Your groups could not be listed"));
    return;
  }
  clear(list);
  if (!groups.length) {
    list.append(h("p", { class: "empty" }, "No groups yet."));
    return;
  }
  list.append(table("Groups, newest first", ["Group", "Status", "Created by", "Created", "Expires", "Reason"],
    groups.map((g) => h("tr", {},
      h("td", { class: "mono" }, h("a", { href: `#/groups/${g.id}` }, g.id)), h("td", {}, statusBadge(g.status)),
      h("td", {}, g.created_by), h("td", {}, when(g.created_at)), h("td", {}, g.status === "open" ? when(g.expires_at) : "–"),
      h("td", {}, g.reason || "–"))), { hideCaption: true }));
}

/** #/groups/{id}: the group's commands, adding more while it is open, executing it. */
export async function renderGroup(root, id) {
  let group;
  try {
    group = await api.get(`/groups/${id}`);
  } catch (err) {
    root.append(pageHead("Group not available"), errorBox(err, err.status === 404 ? "No such group" : "The group could not be read"),
      h("p", {}, h("a", { href: "#/groups" }, "Back to the groups")));
    return;
  }
  const badge = statusBadge(group.status);
  const details = h("div", {});
  const commands = h("div", {});
  const adder = h("div", {});
  const outcome = h("div", { "aria-live": "polite" });
  root.append(h("p", {}, h("a", { href: "#/groups" }, "← All groups")),
    titleWithBadge(`Group ${group.id}`, badge),
    section("grp-details", "Status", details, outcome),
    section("grp-commands", "Commands", commands),
    adder);

  function draw(g) {
    group = g;
    badge.textContent = g.status;
    badge.className = `badge ${STATUS_CLASS[g.status] || ""}`;
    clear(details).append(h("dl", { class: "meta" },
      h("dt", {}, "Status"), h("dd", { id: "group-status" }, g.status),
      h("dt", {}, "Created"), h("dd", {}, when(g.created_at), ` by ${g.created_by}`),
      g.status === "open" ? [h("dt", {}, "Expires"), h("dd", {}, when(g.expires_at))] : null,
      g.reason ? [h("dt", {}, "Reason"), h("dd", {}, g.reason)] : null));
    drawCommands(g);
    clear(adder);
    if (g.status === "open") adder.append(commandForm(g, refresh), executeCard(g));
  }

  function drawCommands(g) {
    clear(commands);
    if (!g.commands.length) {
      commands.append(h("p", { class: "empty" }, "No commands yet: add them below, then execute the group."));
      return;
    }
    const results = new Map(g.results.map((r) => [r.position, r.artifact]));
    const headers = ["#", "Command", "Type", "Target", "Name"];
    if (results.size) headers.push("Result");
    const rows = g.commands.map((c) => {
      const target = c.op === "upload" ? c.filename : c.op === "delete" ? c.id : [c.url, c.id ? ` (artifact ${c.id})` : ""];
      const artifact = results.get(c.position);
      return h("tr", {},
        h("td", { class: "num" }, String(c.position)),
        h("td", {}, (OPS.find(([v]) => v === c.op) || [c.op, c.op])[1], c.sensitive ? " (sensitive)" : ""),
        h("td", {}, c.type), h("td", { class: "mono" }, target || "–"), h("td", {}, c.name || "–"),
        results.size ? h("td", {}, artifact ? (c.op === "delete" ? `deleted ${artifact.name}` : h("a", { href: `#/artifact/${artifact.type}/${artifact.id}` }, `Open ${artifact.name}`)) : "–") : null);
    });
    commands.append(table("Commands in execution order", headers, rows, { hideCaption: true }));
  }

  async function refresh() {
    draw(await api.get(`/groups/${id}`));
  }

  function executeCard(g) {
    const run = h("button", { type: "button", disabled: g.commands.length === 0 }, "Execute group");
    run.addEventListener("click", async () => {
      clear(outcome);
      const n = g.commands.length;
      const ok = await confirmDialog(`Execute ${n} command${n === 1 ? "" : "s"}?`,
        "They are applied together: either every change becomes visible, or none does. A group executes once.", "Execute");
      if (!ok) { run.focus(); return; }
      setBusy(run, true, "Executing…");
      announce("Executing the group; this can take a while.");
      outcome.append(h("p", {}, "Executing: fetching, rating and storing every artifact…"), h("progress", { "aria-label": "Executing the group" }));
      try {
        const done = await api.post(`/groups/${id}/execute`);
        clear(outcome).append(h("p", { class: "ok-box" }, `Committed: all ${done.results.length} changes are visible.`));
        announce(`Group committed: all ${done.results.length} changes are visible.`);
        draw(done);
      } catch (err) {
        clear(outcome).append(errorBox(err, "The group failed; nothing was changed"));
        announce(`The group failed; nothing was changed. ${err.message}`);
        try { await refresh(); } catch { /* the error above says enough */ }
      }
      document.getElementById("page-title")?.focus();
    });
    return section("grp-execute", "Execute",
      h("p", { class: "muted" }, g.commands.length ? "Apply every command above at once." : "Add at least one command first."),
      h("div", { class: "actions" }, run));
  }

  draw(group);
}

function commandForm(g, refresh) {
  const op = selectField({ label: "Command", name: "grp-op", options: OPS, value: "register" });
  const type = selectField({ label: "Type", name: "grp-type", options: TYPES, value: "model" });
  const url = field({ label: "Source URL", name: "grp-url", type: "url", grow: true,
    hint: "A Hugging Face model or dataset page, or a GitHub repository.", attrs: { autocomplete: "url" } });
  const file = field({ label: "Zip file", name: "grp-file", type: "file", attrs: { accept: ".zip,application/zip" },
    hint: "A zip laid out like a Hugging Face repository." });
  const artifactId = field({ label: "Artifact id", name: "grp-id", hint: "The id shown on the artifact's page.", attrs: { autocomplete: "off" } });
  const name = field({ label: "Name (optional)", name: "grp-name", hint: "For an update: must match the artifact's name if given." });
  const sensitiveId = "grp-sensitive";
  const sensitive = h("input", { type: "checkbox", id: sensitiveId, name: "grp-sensitive" });
  const sensitiveWrap = h("div", { class: "field" }, h("label", { for: sensitiveId, class: "inline" }, sensitive, "Sensitive model (downloads run its monitoring program)"));
  const submit = h("button", { type: "submit" }, "Add command");
  const progress = h("div", { class: "progress", "aria-live": "polite" });
  const formError = h("div", {});
  const shown = {
    register: [type.wrap, url.wrap, name.wrap, sensitiveWrap],
    upload: [type.wrap, file.wrap, name.wrap, sensitiveWrap],
    update: [artifactId.wrap, url.wrap, name.wrap],
    delete: [type.wrap, artifactId.wrap],
  };
  const all = [type.wrap, url.wrap, file.wrap, artifactId.wrap, name.wrap, sensitiveWrap];
  const sync = () => {
    for (const w of all) w.hidden = !shown[op.select.value].includes(w);
    sensitiveWrap.hidden = sensitiveWrap.hidden || type.select.value !== "model";
  };
  op.select.addEventListener("change", sync);
  type.select.addEventListener("change", sync);
  sync();
  const form = h("form", { novalidate: true },
    h("div", { class: "row" }, op.wrap, type.wrap), h("div", { class: "row" }, url.wrap, file.wrap, artifactId.wrap),
    h("div", { class: "row" }, name.wrap), sensitiveWrap, h("div", { class: "actions" }, submit), progress, formError);

  const controls = [op.select, type.select, url.input, file.input, artifactId.input, name.input, sensitive];
  const lock = (on) => { for (const c of controls) c.disabled = on; };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const f of [url, file, artifactId, name]) clearFieldError(f);
    clear(formError);
    const kind = op.select.value;
    const fields = shown[kind];
    const value = (f) => f.input.value.trim();
    if (fields.includes(url.wrap) && !value(url)) return showFieldError(url, { message: "Enter a source URL." });
    if (fields.includes(artifactId.wrap) && !value(artifactId)) return showFieldError(artifactId, { message: "Enter the artifact's id." });
    if (kind === "upload" && !file.input.files.length) return showFieldError(file, { message: "Choose a zip file." });
    setBusy(submit, true, "Adding…");
    // The form is rebuilt once the command is added: nothing typed meanwhile may be lost.
    lock(true);
    try {
      let added;
      if (kind === "upload") {
        const chosen = file.input.files[0];
        const form = new FormData();
        form.append("type", type.select.value);
        form.append("file", chosen);
        if (value(name)) form.append("name", value(name));
        if (type.select.value === "model" && sensitive.checked) form.append("sensitive", "true");
        const bar = h("progress", { max: chosen.size || 1, value: 0, "aria-label": "Uploading the zip" });
        clear(progress).append(h("p", {}, `Uploading ${chosen.name} (${bytes(chosen.size)})…`), bar);
        added = await uploadWithProgress(`/groups/${g.id}/commands/upload`, form, (n) => { bar.value = n; });
      } else {
        const body = { op: kind };
        if (kind !== "update") body.type = type.select.value;
        if (fields.includes(url.wrap)) body.url = value(url);
        if (fields.includes(artifactId.wrap)) body.id = value(artifactId);
        if (fields.includes(name.wrap) && value(name)) body.name = value(name);
        if (kind === "register" && type.select.value === "model") body.sensitive = sensitive.checked;
        added = await api.post(`/groups/${g.id}/commands`, body);
      }
      clear(progress);
      for (const f of [url, artifactId, name]) f.input.value = "";
      file.input.value = "";
      announce(`Command ${added.position} added: ${kind} ${added.name || added.filename || added.id || ""}.`);
      await refresh();
      document.querySelector("section[aria-labelledby=grp-commands] table")?.setAttribute("tabindex", "-1");
      document.querySelector("section[aria-labelledby=grp-commands] table")?.focus();
    } catch (err) {
      lock(false);
      clear(progress);
      // The API's message next to the field it is about; otherwise under the form.
      const text = `${err.message} ${JSON.stringify(err.details || "")}`;
      const target = /\bgroup \S+ (expired|is|holds)\b/i.test(err.message) ? null
        : kind === "upload" ? file
        : /\bname\b/i.test(text) && value(name) ? name
          : fields.includes(artifactId.wrap) && (/\bid\b|artifact|exist|owner|not yours|no such/i.test(text) || !fields.includes(url.wrap)) ? artifactId
            : fields.includes(url.wrap) ? url : null;
      if (target) showFieldError(target, err);
      else formError.append(errorBox(err, "The command was not added"));
    } finally {
      lock(false);
      setBusy(submit, false);
    }
    return undefined;
  });
  return section("grp-add", "Add a command",
    h("p", { class: "muted" }, "Each command is checked now (URL well-formed, artifact exists and is yours, one command per artifact); nothing changes until the group is executed."),
    form);
}
