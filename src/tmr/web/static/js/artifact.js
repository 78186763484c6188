// One artifact: metadata, downloads per part, rating chart with evidence, lineage graph, cost,
// license check, audit trail, update and delete.
import { api, ApiError, session } from "./api.js";
import { downloadHistoryCard, lifecycleCard, monitorCard, stateBadge } from "./protections.js";
import {
  announce, bytes, clear, clearFieldError, confirmDialog, errorBox, field, fmt, h, loadChart,
  loadDagre, nextTask, pageHead, setBusy, showFieldError, svg, table, titleWithBadge, typeBadge,
  whenVisible,
} from "./ui.js";

const METRICS = [
  ["net_score", "Net score"],
  ["ramp_up_time", "Ramp-up time"],
  ["bus_factor", "Bus factor"],
  ["performance_claims", "Performance claims"],
  ["license", "License"],
  ["dataset_and_code_score", "Dataset and code"],
  ["dataset_quality", "Dataset quality"],
  ["code_quality", "Code quality"],
  ["reproducibility", "Reproducibility"],
  ["reviewedness", "Reviewedness"],
  ["tree_score", "Tree score"],
  ["size_score", "Size (mean over devices)"],
];

export async function render(root, type, id) {
  let artifact;
  try {
    artifact = await api.get(`/artifacts/${type}/${id}`);
  } catch (err) {
    root.append(pageHead("Artifact not available"), errorBox(err, err.status === 404 ? "No such artifact" : "The artifact could not be read"),
      h("p", {}, h("a", { href: "#/" }, "Back to the artifacts")));
    return;
  }
  const { metadata, data } = artifact;
  const sections = h("div", {});
  root.append(
    h("p", {}, h("a", { href: "#/" }, "← All artifacts")),
    titleWithBadge(metadata.name, typeBadge(metadata.type)),
    ...[securityBanner(data.security)].filter(Boolean),
    h("div", { class: "grid" }, metaCard(metadata, data), downloadCard(metadata, data.security)),
    sections,
  );
  if (type === "model") sections.append(ratingCard(id), lineageCard(id), licenseCard(id));
  sections.append(lifecycleCard(type, id, () => window.dispatchEvent(new HashChangeEvent("hashchange"))));
  if (type === "model") sections.append(monitorCard(id));
  sections.append(costCard(type, id), auditCard(type, id), downloadHistoryCard(type, id));
  if (session.can("upload")) sections.append(manageCard(metadata, data));
}

/** Deprecated or quarantined, sensitive, or a flagged ancestor: said at the top of the page. */
function securityBanner(security) {
  if (!security) return null;
  const lines = [];
  const life = security.lifecycle || {};
  if (life.state && life.state !== "active") {
    lines.push(h("p", {}, stateBadge(life.state), ` ${life.reason || ""}`,
      life.state === "quarantined" ? " Downloads are refused until it is made active again." : ""));
  }
  for (const w of security.warnings || []) lines.push(h("p", {}, w));
  if (security.sensitive) lines.push(h("p", {}, "Sensitive model: each download runs its monitoring program first."));
  if (!lines.length) return null;
  return h("div", { class: "error-box", role: "note", "aria-label": "Safety notices" }, h("strong", {}, "Safety notices"), lines);
}

function section(title, ...body) {
  const id = `sec-${title.toLowerCase().replace(/[^a-z]+/g, "-")}`;
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...body);
}

function metaCard(m, d) {
  return section("Details", h("dl", { class: "meta" },
    h("dt", {}, "Name"), h("dd", {}, m.name),
    h("dt", {}, "Type"), h("dd", {}, m.type),
    h("dt", {}, "Id"), h("dd", { class: "mono" }, m.id),
    h("dt", {}, "Source"), h("dd", {}, /^https?:\/\//.test(d.url) ? h("a", { href: d.url, rel: "noopener noreferrer" }, d.url) : d.url),
    h("dt", {}, "Download URL"), h("dd", { class: "mono" }, d.download_url || "–")));
}

const PART_LABELS = { all: "Everything", weights: "Weights", card: "Model card and docs", datasets: "Linked datasets", code: "Linked code" };
const FRESH_MS = 20 * 60_000; // signed links last at least an hour; older ones are fetched again

function downloadCard(m, security) {
  const body = h("div", { class: "reserve-parts" }, h("p", { class: "muted" }, "Loading parts…"));
  const status = h("div", { class: "progress", "aria-live": "polite" });
  const card = section("Download", body, status);
  if (!session.can("download")) {
    clear(body).append(h("p", { class: "muted" }, "Your account cannot download (no “download” permission)."));
    return card;
  }
  let fetched = 0;
  const links = new Map();
  const loadLinks = () => api.get(`/download/${m.id}/parts`).then((parts) => {
    fetched = Date.now();
    for (const p of parts) {
      links.set(p.part, p.download_url);
      const a = body.querySelector(`a[data-part="${p.part}"]`);
      if (a) a.href = p.download_url;
    }
    return parts;
  });
  loadLinks().then((parts) => {
    clear(body);
    const rows = parts.map((p) => {
      const label = PART_LABELS[p.part] || p.part;
      // A real link to the signed, expiring URL: the browser streams the file to disk itself
      // (and "save link as" works); a click also watches for a refusal (see saveThrough).
      const link = h("a", { class: "button secondary", href: p.download_url, download: "", dataset: { part: p.part },
        "aria-label": `Download ${label} (${bytes(p.bytes)})` }, "Download");
      link.addEventListener("click", async (e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return; // the browser's own ways
        e.preventDefault();
        clear(status);
        if (Date.now() - fetched > FRESH_MS) {
          try { await loadLinks(); } catch (err) { status.append(errorBox(err, "The download link could not be renewed")); return; }
        }
        const note = security && security.sensitive ? " This sensitive model's monitoring program runs first." : "";
        status.append(h("p", { class: "ok-box" }, `Download of ${label} (${bytes(p.bytes)}) started: your browser saves it and shows its progress.${note}`));
        announce(`Download of ${label} started.`);
        saveThrough(links.get(p.part), (err) => {
          clear(status).append(errorBox(err, `The registry refused the download of ${label}`));
          announce(`The download of ${label} was refused: ${err.message}`);
        });
      });
      return h("tr", {}, h("td", {}, label), h("td", { class: "num" }, p.files),
        h("td", { class: "num" }, bytes(p.bytes)), h("td", {}, p.files ? link : h("span", { class: "muted" }, "empty")));
    });
    body.append(table("Parts you can download", ["Part", ["Files", "num"], ["Size", "num"], "Action"], rows, { hideCaption: true }),
      h("p", { class: "hint" }, "Each link is signed for you and expires after an hour or two; until then it works without signing in (copy it for curl or wget)."));
  }).catch((err) => clear(body).append(errorBox(err, "The parts could not be listed")));
  return card;
}

/**
 * Navigate a hidden frame to a signed download link: a zip becomes a browser download, streamed
 * to disk (never held in this page's memory); a refusal (quarantine, a monitor saying no, an
 * expired link) is a JSON document loaded in the frame, handed to onRefused as an ApiError.
 */
function saveThrough(url, onRefused) {
  const frame = h("iframe", { hidden: true, title: "download", "aria-hidden": "true", tabindex: "-1" });
  frame.addEventListener("load", () => {
    let doc;
    try { doc = frame.contentDocument; } catch { return; }
    if (!doc || !doc.body || doc.location.href === "about:blank") return;
    const text = doc.body.textContent || "";
    const nav = frame.contentWindow.performance?.getEntriesByType?.("navigation")?.[0];
    let data;
    try { data = JSON.parse(text); } catch { data = { message: text.slice(0, 300) || "the download failed" }; }
    onRefused(new ApiError(nav?.responseStatus || 0, data));
  });
  document.body.append(frame);
  frame.src = url;
  setTimeout(() => frame.remove(), 15 * 60_000);
}

function metricValue(rating, key) {
  const v = rating[key];
  if (key === "size_score" && v && typeof v === "object") {
    const vals = Object.values(v).filter((x) => typeof x === "number");
    return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
  }
  return typeof v === "number" && v >= 0 ? v : null;
}

function ratingCard(id) {
  // The chart box and the list have their final size at once, so nothing below them moves when
  // the rating arrives; the chart library loads only when the chart comes on screen.
  const canvas = h("canvas", { role: "img", "aria-label": "Bar chart of the net score and eleven metrics; the list below has every value." });
  const listBox = h("div", { class: "reserve-list" }, h("p", { class: "muted" }, "Loading the rating…"));
  const chartBox = h("div", { class: "chart-box" }, canvas);
  const card = section("Rating",
    h("p", { class: "muted" }, "Scores from 0 (worst) to 1 (best); n/a means the metric does not apply. Open a metric for its evidence."),
    chartBox, listBox);
  Promise.all([api.get(`/artifact/model/${id}/rate`), api.get(`/artifact/model/${id}/rate/explain`)])
    .then(([rating, explain]) => {
      const values = METRICS.map(([key, label]) => [key, label, metricValue(rating, key)]);
      canvas.setAttribute("aria-label", `Bar chart of the net score ${fmt(rating.net_score)} and eleven metrics; the list below has every value.`);
      clear(listBox).append(metricList(values, rating, explain));
      whenVisible(chartBox, async () => {
        try {
          const Chart = await loadChart();
          await nextTask();
          new Chart(canvas, {
            type: "bar",
            data: {
              labels: values.map(([, label]) => label),
              datasets: [{ label: "Score", data: values.map(([, , v]) => (v === null ? 0 : v)),
                backgroundColor: values.map(([key, , v]) => (key === "net_score" ? "#1e3a8a" : v !== null && v < 0.5 ? "#b91c1c" : "#2563eb")) }],
            },
            options: {
              indexAxis: "y", maintainAspectRatio: false, animation: false,
              scales: { x: { min: 0, max: 1, ticks: { color: "#374151" } }, y: { ticks: { color: "#1a1f36" } } },
              plugins: { legend: { display: false } },
            },
          });
        } catch (err) {
          chartBox.replaceChildren(errorBox(err, "The chart library could not be loaded; the list below has every value"));
        }
      });
    })
    .catch((err) => clear(listBox).append(errorBox(err, "The rating could not be read")));
  return card;
}

function metricList(values, rating, explain) {
  const list = h("div", { role: "list", "aria-label": "Scores and evidence" });
  for (const [key, label, value] of values) {
    const info = key === "net_score" ? null : (explain.metrics || {})[key];
    const latency = rating[`${key}_latency`];
    const pct = value === null ? 0 : Math.max(0, Math.min(1, value)) * 100;
    const summary = h("summary", {},
      h("span", { class: "metric-name" }, label),
      h("span", { class: "bar", "aria-hidden": "true" }, h("span", { style: `width:${pct}%` })),
      h("span", { class: "score" }, value === null ? "n/a" : fmt(value)));
    if (value === null && key !== "size_score") summary.title = "Does not apply to this model (−1)";
    let detail = h("div", { class: "metric-detail" });
    if (key === "net_score") {
      detail = h("div", { class: "metric-detail" }, h("p", {}, "The weighted mean of the applicable metrics."),
        explain.gate_failures && explain.gate_failures.length
          ? h("p", {}, "Below the ingest gate: ", explain.gate_failures.map((f) => `${f.metric} ${fmt(f.score)}`).join(", "))
          : h("p", {}, "No metric is below the ingest gate."));
    } else if (info) {
      detail = h("div", { class: "metric-detail" }, h("p", {}, info.summary || ""),
        info.inconclusive ? h("p", {}, h("strong", {}, "Inconclusive: "), "the evidence could not be gathered.") : null,
        info.applicable === false ? h("p", {}, "Not applicable to this model.") : null,
        key === "size_score" && rating.size_score ? h("p", {}, Object.entries(rating.size_score).map(([d, s]) => `${d.replace(/_/g, " ")} ${fmt(s)}`).join(" · ")) : null,
        h("p", { class: "muted" }, `Computed in ${fmt(typeof latency === "number" ? latency : info.latency_seconds, 3)} s.`),
        h("pre", { class: "evidence", tabindex: "0", "aria-label": `Evidence for ${label}` }, JSON.stringify(info.evidence, null, 2)));
    }
    list.append(h("div", { role: "listitem" }, h("details", { class: "metric", "data-metric": key }, summary, detail)));
  }
  return list;
}

function lineageCard(id) {
  const body = h("div", { class: "reserve-graph" }, h("p", { class: "muted" }, "Loading the lineage…"));
  const card = section("Lineage", body);
  api.get(`/artifact/model/${id}/lineage`).then((graph) => {
    clear(body);
    const names = new Map(graph.nodes.map((n) => [n.artifact_id, n.name]));
    if (graph.nodes.length <= 1 && !graph.edges.length) {
      body.append(h("p", { class: "empty" }, "No registered parent or child models: this model stands alone."));
      return;
    }
    const figure = h("div", { class: "lineage-svg" });
    body.append(h("p", { class: "muted" }, "Arrows point from a base model to the models derived from it. Select a node to open it."), figure);
    figure.style.minHeight = `${Math.min(30, 4 * graph.nodes.length + 2)}rem`;
    whenVisible(figure, async () => {
      try {
        const dagre = await loadDagre();
        figure.style.minHeight = "";
        figure.append(drawGraph(dagre, graph, id));
      } catch (err) {
        figure.append(errorBox(err, "The graph could not be drawn; the list below has every link"));
      }
    });
    const items = graph.edges.map((e) => h("li", {},
      h("a", { href: `#/artifact/model/${e.from_node_artifact_id}` }, names.get(e.from_node_artifact_id) || e.from_node_artifact_id),
      ` is the ${e.relationship.replace(/_/g, " ")} of `,
      h("a", { href: `#/artifact/model/${e.to_node_artifact_id}` }, names.get(e.to_node_artifact_id) || e.to_node_artifact_id)));
    body.append(h("h3", {}, "Links as a list"), h("ul", { "aria-label": "Lineage links" }, items),
      h("p", { class: "muted" }, `${graph.nodes.length} models, found in: ${[...new Set(graph.nodes.map((n) => n.source))].join(", ")}.`));
  }).catch((err) => clear(body).append(errorBox(err, "The lineage could not be read")));
  return card;
}

function drawGraph(dagre, graph, currentId) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "TB", nodesep: 30, ranksep: 50, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) {
    const width = Math.min(260, Math.max(120, n.name.length * 8 + 24));
    g.setNode(n.artifact_id, { label: n.name, width, height: 40 });
  }
  for (const e of graph.edges) g.setEdge(e.from_node_artifact_id, e.to_node_artifact_id);
  dagre.layout(g);
  const { width, height } = g.graph();
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "group", "aria-label": "Lineage graph" },
    svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse" },
      svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#4b5563" }))));
  for (const e of g.edges()) {
    const pts = g.edge(e).points;
    root.append(svg("path", { d: `M ${pts.map((p) => `${p.x} ${p.y}`).join(" L ")}`, fill: "none", stroke: "#4b5563", "stroke-width": 1.5, "marker-end": "url(#arrow)", "aria-hidden": "true" }));
  }
  for (const nodeId of g.nodes()) {
    const n = g.node(nodeId);
    const current = nodeId === currentId;
    const text = n.label.length > 30 ? `${n.label.slice(0, 29)}…` : n.label;
    root.append(svg("a", { href: `#/artifact/model/${nodeId}`, "aria-label": `${n.label}${current ? " (this model)" : ""}` },
      svg("rect", { x: n.x - n.width / 2, y: n.y - n.height / 2, width: n.width, height: n.height, rx: 6,
        fill: current ? "#1e3a8a" : "#ffffff", stroke: "#1e3a8a", "stroke-width": 2 }),
      svg("text", { x: n.x, y: n.y + 5, "text-anchor": "middle", fill: current ? "#ffffff" : "#1a1f36", "font-size": 13 }, text)));
  }
  return root;
}

function costCard(type, id) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading the cost…"));
  const card = section("Cost", body);
  Promise.all([api.get(`/artifact/${type}/${id}/cost`), api.get(`/artifact/${type}/${id}/cost`, { query: { dependency: true } })])
    .then(([alone, deps]) => {
      clear(body);
      const rows = Object.entries(deps).map(([aid, c]) => h("tr", {},
        h("td", { class: "mono" }, aid === id ? `${aid} (this artifact)` : aid),
        h("td", { class: "num" }, fmt(c.standalone_cost ?? (alone[aid] || {}).total_cost, 1)),
        h("td", { class: "num" }, fmt(c.total_cost, 1))));
      const own = alone[id] || Object.values(alone)[0] || {};
      const all = deps[id] || {};
      body.append(h("p", {}, "Without dependencies: ", h("strong", {}, `${fmt(own.total_cost, 1)} MB`),
        " · with dependencies: ", h("strong", {}, `${fmt(all.total_cost, 1)} MB`)),
      table("Download size in MB per artifact, with its dependencies", ["Artifact", ["Alone (MB)", "num"], ["Total (MB)", "num"]], rows));
    })
    .catch((err) => clear(body).append(errorBox(err, "The cost could not be computed")));
  return card;
}

function licenseCard(id) {
  const url = field({ label: "GitHub repository URL", name: "github_url", type: "url", grow: true,
    hint: "Can this model be fine-tuned and used together with that code?", attrs: { placeholder: "https://github.com/owner/repo" } });
  const submit = h("button", { type: "submit" }, "Check");
  const result = h("div", { "aria-live": "polite" });
  const form = h("form", {}, h("div", { class: "row" }, url.wrap, h("div", { class: "field end" }, submit)), result);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearFieldError(url);
    clear(result);
    if (!/^https?:\/\/\S+$/.test(url.input.value.trim())) return showFieldError(url, { message: "Enter the URL of a GitHub repository." });
    setBusy(submit, true, "Checking…");
    try {
      const ok = await api.post(`/artifact/model/${id}/license-check`, { github_url: url.input.value.trim() });
      result.append(ok
        ? h("p", { class: "ok-box" }, "Compatible: the licenses allow fine-tuning and inference together.")
        : h("p", { class: "error-box" }, "Not compatible: the licenses do not allow this use together."));
    } catch (err) {
      showFieldError(url, err);
    } finally {
      setBusy(submit, false);
    }
    return undefined;
  });
  return section("License check", form);
}

function auditCard(type, id) {
  const body = h("div", {}, h("p", { class: "muted" }, "Loading the audit trail…"));
  const card = section("Audit trail", body);
  api.get(`/artifact/${type}/${id}/audit`).then((entries) => {
    clear(body);
    if (!entries.length) return body.append(h("p", { class: "empty" }, "No audit entries yet."));
    const rows = entries.slice().reverse().map((e) => h("tr", {}, h("td", {}, e.date), h("td", {}, e.action), h("td", {}, e.user.name)));
    return body.append(table("Who did what, newest first", ["When (UTC)", "Action", "User"], rows, { scrollable: rows.length > 12 }));
  }).catch((err) => clear(body).append(errorBox(err, "The audit trail could not be read")));
  return card;
}

function manageCard(m, d) {
  const url = field({ label: "Source URL", name: "url", type: "url", value: d.url, grow: true,
    hint: "Updating fetches the artifact again from this URL and rates it again; the name and id stay." });
  const save = h("button", { type: "submit" }, "Update");
  const result = h("div", { "aria-live": "polite" });
  const form = h("form", {}, h("div", { class: "row" }, url.wrap), h("div", { class: "actions" }, save), result);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearFieldError(url);
    clear(result);
    const ok = await confirmDialog("Update this artifact?", `It will be fetched again from ${url.input.value} and rated again.`, "Update");
    if (!ok) return;
    setBusy(save, true, "Updating… (fetching and rating)");
    try {
      await api.put(`/artifacts/${m.type}/${m.id}`, { metadata: m, data: { url: url.input.value.trim() } });
      announce("Artifact updated.");
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (err) {
      setBusy(save, false);
      showFieldError(url, err);
    }
  });
  const del = h("button", { type: "button", class: "danger" }, "Delete artifact");
  const delResult = h("div", {});
  del.addEventListener("click", async () => {
    const ok = await confirmDialog(`Delete ${m.name}?`, "The artifact, its files and its rating are removed for everyone. This cannot be undone.", "Delete");
    if (!ok) { del.focus(); return; }
    setBusy(del, true, "Deleting…");
    try {
      await api.del(`/artifacts/${m.type}/${m.id}`);
      sessionStorage.setItem("tmr.deleted", m.name);
      announce(`${m.name} deleted.`);
      window.location.hash = "#/";
    } catch (err) {
      setBusy(del, false);
      clear(delResult).append(errorBox(err, "The artifact was not deleted"));
    }
  });
  return section("Update or delete", form, h("h3", {}, "Delete"),
    h("p", { class: "muted" }, "Deleting asks for confirmation first."), h("div", { class: "actions" }, del), delResult);
}

export { ApiError };
