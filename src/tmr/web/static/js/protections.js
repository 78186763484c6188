// Protections (issue 9) in the interface: lifecycle and weight scans, sensitive models and their
// monitoring programs, download history, and the package-confusion audit page.
import { api, ApiError, session } from "./api.js";
import {
  announce, clear, confirmDialog, errorBox, field, fmt, h, nextId, pageHead, selectField, setBusy,
  table, typeBadge,
} from "./ui.js";

function section(title, ...body) {
  const id = `sec-${title.toLowerCase().replace(/[^a-z]+/g, "-")}`;
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...body);
}

export function stateBadge(state) {
  const cls = state === "active" ? "status-ok" : state === "deprecated" ? "status-degraded" : "status-critical";
  return h("span", { class: `badge ${cls}` }, state);
}

/** Lifecycle, sensitivity, ancestor warnings and weight scans; owners and admins change them. */
export function lifecycleCard(type, id, onChanged) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const card = section("Safety and lifecycle", body);
  const load = () => api.get(`/artifact/${type}/${id}/lifecycle`).then((st) => {
    clear(body);
    body.append(h("dl", { class: "meta" },
      h("dt", {}, "State"), h("dd", {}, stateBadge(st.state), st.reason ? ` ${st.reason}` : ""),
      h("dt", {}, "Changed"), h("dd", {}, st.changed_by ? `${st.changed_at} by ${st.changed_by}` : "never"),
      type === "model" ? [h("dt", {}, "Sensitive"), h("dd", {}, st.sensitive ? `yes${st.has_monitor ? ", with a monitoring program" : ", no monitoring program yet"}` : "no")] : null));
    if (st.warnings.length) {
      body.append(h("div", { class: "error-box", role: "note" }, h("strong", {}, "Lineage warnings"),
        h("ul", {}, st.warnings.map((w) => h("li", {}, w)))));
    }
    if (st.weight_scans.length) {
      body.append(h("h3", {}, "Weight scans"), table("Pickle scans of the weight files", ["File", "Verdict", "Off the allow-list"],
        st.weight_scans.map((s) => h("tr", {}, h("td", { class: "mono" }, s.path),
          h("td", {}, h("span", { class: `badge ${s.verdict === "unsafe" ? "status-critical" : "status-ok"}` }, s.verdict)),
          h("td", { class: "mono" }, s.unsafe.join(", ") || "–"))), { hideCaption: true }));
    }
    if (session.can("upload")) body.append(changeForm(type, id, st, async () => { await load(); onChanged?.(); }));
  }).catch((err) => clear(body).append(errorBox(err, "The lifecycle could not be read")));
  load();
  return card;
}

function changeForm(type, id, st, reload) {
  const state = selectField({ label: "New state", name: "state", value: st.state,
    options: [["active", "Active"], ["deprecated", "Deprecated"], ["quarantined", "Quarantined (no downloads)"]] });
  const reason = field({ label: "Reason", name: "reason", grow: true, hint: "Required except for “active”; shown to everyone who finds the artifact." });
  const save = h("button", { type: "submit" }, "Change state");
  const result = h("div", { "aria-live": "polite" });
  const form = h("form", { novalidate: true }, h("h3", {}, "Change"), h("div", { class: "row" }, state.wrap, reason.wrap), h("div", { class: "actions" }, save), result);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clear(result);
    reason.error.hidden = true;
    if (state.select.value === "quarantined") {
      const ok = await confirmDialog("Quarantine this artifact?", "Nobody can download it until it is made active again.", "Quarantine");
      if (!ok) return;
    }
    setBusy(save, true, "Saving…");
    try {
      await api.put(`/artifact/${type}/${id}/lifecycle`, { state: state.select.value, reason: reason.input.value.trim() });
      announce(`State changed to ${state.select.value}.`);
      await reload();
    } catch (err) {
      reason.error.hidden = false;
      reason.error.textContent = `${err.message} (HTTP ${err.status})`;
      reason.input.setAttribute("aria-invalid", "true");
      reason.input.focus();
      setBusy(save, false);
    }
  });
  const forms = [form];
  if (type === "model") {
    const boxId = nextId("sensitive");
    const box = h("input", { type: "checkbox", id: boxId, checked: st.sensitive });
    const saveS = h("button", { type: "button", class: "secondary" }, "Save");
    const out = h("div", { "aria-live": "polite" });
    saveS.addEventListener("click", async () => {
      clear(out);
      try {
        await api.put(`/artifact/model/${id}/sensitive`, { sensitive: box.checked });
        announce(box.checked ? "Marked sensitive." : "No longer sensitive.");
        await reload();
      } catch (err) {
        out.append(errorBox(err, "Not changed"));
      }
    });
    forms.push(h("div", {}, h("h3", {}, "Sensitive model"),
      h("div", { class: "actions" }, h("label", { for: boxId, class: "inline" }, box, " Sensitive: downloads run the model’s monitoring program first"), saveS), out));
  }
  return h("div", {}, forms);
}

/** The sensitive model's JavaScript monitoring program: view, replace, remove. */
export function monitorCard(id) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const card = section("Monitoring program", body);
  const load = () => api.get(`/artifact/model/${id}/monitor`).then((m) => draw(m)).catch((err) => {
    if (err instanceof ApiError && err.status === 404) draw(null);
    else clear(body).append(errorBox(err, "The monitoring program could not be read"));
  });
  function draw(m) {
    clear(body);
    body.append(h("p", { class: "muted" }, m
      ? `Uploaded by ${m.uploaded_by} at ${m.uploaded_at} (sha256 ${m.sha256.slice(0, 12)}…). It runs before every download of this model; exit code 0 allows it.`
      : "No monitoring program. Adding one marks the model sensitive: every download then runs it (node PROGRAM MODEL_NAME UPLOADER DOWNLOADER ZIP_PATH) and exit code 0 allows it."));
    if (!session.can("upload")) {
      if (m) body.append(h("pre", { class: "evidence", tabindex: "0", "aria-label": "Monitoring program" }, m.program));
      return;
    }
    const areaId = nextId("program");
    const errId = `${areaId}-err`;
    const area = h("textarea", { id: areaId, rows: 8, class: "mono", spellcheck: "false", "aria-describedby": errId });
    area.value = m ? m.program : "// exit 0 allows the download\nprocess.exit(0);\n";
    const error = h("p", { class: "field-error", id: errId, hidden: true });
    const save = h("button", { type: "submit" }, m ? "Replace program" : "Add program");
    const form = h("form", { novalidate: true }, h("div", { class: "field" }, h("label", { for: areaId }, "JavaScript program"), area, error),
      h("div", { class: "actions" }, save,
        m ? h("button", { type: "button", class: "danger", onclick: remove }, "Remove program") : null));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.hidden = true;
      setBusy(save, true, "Saving…");
      try {
        await api.put(`/artifact/model/${id}/monitor`, { program: area.value });
        announce("Monitoring program saved.");
        await load();
      } catch (err) {
        error.hidden = false;
        error.textContent = `${err.message} (HTTP ${err.status})`;
        area.setAttribute("aria-invalid", "true");
        area.focus();
        setBusy(save, false);
      }
    });
    body.append(form);
  }
  async function remove() {
    if (!(await confirmDialog("Remove the monitoring program?", "Downloads of this model will no longer be checked by it.", "Remove"))) return;
    try {
      await api.del(`/artifact/model/${id}/monitor`);
      announce("Monitoring program removed.");
      await load();
    } catch (err) {
      body.append(errorBox(err, "Not removed"));
    }
  }
  load();
  return card;
}

/** Who downloaded what, allowed or refused (owner and admins). */
export function downloadHistoryCard(type, id) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  const card = section("Download history", body);
  api.get(`/artifact/${type}/${id}/downloads`).then((rows) => {
    clear(body);
    if (!rows.length) return body.append(h("p", { class: "empty" }, "Nobody has downloaded this artifact yet."));
    return body.append(table("Downloads, newest first", ["When (UTC)", "User", "Part", "Result", "Reason"],
      rows.slice().reverse().map((r) => h("tr", {}, h("td", {}, r.date), h("td", {}, r.user), h("td", {}, r.part),
        h("td", {}, h("span", { class: `badge ${r.allowed ? "status-ok" : "status-critical"}` }, r.allowed ? "allowed" : "refused")),
        h("td", {}, [r.reason, r.first_line].filter(Boolean).join(" · ") || "–"))), { scrollable: rows.length > 12 }));
  }).catch((err) => {
    clear(body).append(err.status === 401
      ? h("p", { class: "muted" }, "Only the artifact’s owner and administrators see its download history.")
      : errorBox(err, "The download history could not be read"));
  });
  return card;
}

/** The package-confusion audit: artifacts that look like malicious look-alikes of popular ones. */
export async function render(root) {
  const threshold = field({ label: "Threshold", name: "threshold", type: "number", value: "0.5",
    hint: "From 0 to 1: lower finds more, with more false alarms.", attrs: { min: 0, max: 1, step: 0.05 } });
  const submit = h("button", { type: "submit" }, "Run audit");
  const out = h("div", {});
  const form = h("form", { novalidate: true }, h("div", { class: "row" }, threshold.wrap, h("div", { class: "field end" }, submit)));
  async function run() {
    setBusy(submit, true, "Auditing…");
    try {
      const audit = await api.get("/artifacts/PackageConfusionAudit", { query: { threshold: threshold.input.value } });
      clear(out);
      if (!audit.findings.length) {
        out.append(h("div", { class: "card empty" }, h("h2", {}, "No suspicious artifacts"), h("p", {}, `Nothing scores ${fmt(audit.threshold)} or more.`)));
      } else {
        out.append(h("div", { class: "card" }, table(`${audit.findings.length} suspicious artifacts at threshold ${fmt(audit.threshold)}`,
          ["Artifact", ["Score", "num"], "Looks like", "Why"],
          audit.findings.map((f) => h("tr", {},
            h("td", {}, h("a", { href: `#/artifact/${f.artifact.type}/${f.artifact.id}` }, f.artifact.name), " ", typeBadge(f.artifact.type)),
            h("td", { class: "num" }, fmt(f.score)),
            h("td", {}, f.looks_like ? h("a", { href: `#/artifact/${f.looks_like.type}/${f.looks_like.id}` }, f.looks_like.name) : "–"),
            h("td", {}, h("ul", {}, f.reasons.map((r) => h("li", {}, r)))))))));
      }
      announce(`${audit.findings.length} suspicious artifacts.`);
    } catch (err) {
      clear(out).append(errorBox(err, "The audit could not run"));
    } finally {
      setBusy(submit, false);
    }
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
  root.append(pageHead("Package-confusion audit"),
    h("div", { class: "card" }, h("p", { class: "muted" }, "Names, popularity and uploader signals of every artifact, compared with the popular ones they may imitate."), form), out);
  await run();
}
