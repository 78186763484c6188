// The health dashboard: component status, last hour per component and per route as charts that
// refresh by themselves (with a pause control), the log viewer and the download workload (admins).
import { api, session } from "./api.js";
import { onLeave } from "./app.js";
import {
  announce, clear, clearFieldError, errorBox, field, fmt, h, loadChart, nextTask, pageHead,
  selectField, setBusy, showFieldError, table, whenVisible,
} from "./ui.js";

const REFRESH_MS = 10_000;
const CHARTS = ["requests", "latency", "errors"];
const COMPONENT_COLORS = { api: "#1d4ed8", ingest: "#b45309", downloads: "#15803d" };

export async function render(root) {
  const statusBox = h("div", { class: "grid", id: "components" });
  const chartsBox = h("div", {});
  const routesBox = h("div", {});
  const updated = h("p", { class: "muted", id: "updated" });
  const pause = h("button", { type: "button", class: "secondary", "aria-pressed": "false" }, "Pause auto-refresh");
  const refreshNow = h("button", { type: "button", class: "secondary" }, "Refresh now");
  // Built off-screen and shown once with the first figures, so nothing moves after it appears.
  const content = h("div", {});
  content.append(
    pageHead("Health", h("div", { class: "actions" }, refreshNow, pause)),
    updated,
    h("section", { "aria-labelledby": "h-components" }, h("h2", { id: "h-components" }, "Components"), statusBox),
    h("section", { class: "card", "aria-labelledby": "h-activity" }, h("h2", { id: "h-activity" }, "Last hour"), chartsBox),
    h("section", { class: "card", "aria-labelledby": "h-routes" }, h("h2", { id: "h-routes" }, "Routes in the last hour"), routesBox),
  );
  if (session.user && session.user.is_admin) {
    content.append(workloadSection(), logSection());
  } else {
    content.append(h("p", { class: "muted" }, "Administrators also see the log viewer and can run the download workload here."));
  }

  const charts = {};
  let timer = null;
  let paused = false;
  async function refresh() {
    try {
      const [components, dash] = await Promise.all([
        api.get("/health/components", { query: { windowMinutes: 60 } }),
        api.get("/health/dashboard", { query: { windowMinutes: 60 } }),
      ]);
      drawComponents(statusBox, components.components);
      await drawCharts(chartsBox, charts, dash);
      drawRoutes(routesBox, dash.routes);
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}; ${paused ? "auto-refresh paused" : `refreshes every ${REFRESH_MS / 1000} seconds`}.`;
    } catch (err) {
      clear(statusBox).append(errorBox(err, "The health report could not be read"));
    }
  }
  function schedule() {
    clearInterval(timer);
    if (!paused) timer = setInterval(refresh, REFRESH_MS);
  }
  pause.addEventListener("click", () => {
    paused = !paused;
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume auto-refresh" : "Pause auto-refresh";
    announce(paused ? "Auto-refresh paused." : "Auto-refresh resumed.");
    schedule();
  });
  refreshNow.addEventListener("click", refresh);
  onLeave(() => {
    clearInterval(timer);
    for (const key of CHARTS) charts[key]?.destroy();
  });
  await refresh();
  root.append(content);
  schedule();
}

function drawComponents(box, components) {
  clear(box);
  for (const c of components) {
    const m = c.metrics || {};
    const facts = [];
    if (m.requests !== undefined) facts.push(["Requests", m.requests], ["Server errors", m.errors ?? 0]);
    if (m.latency_ms_p50 !== undefined) facts.push(["p50 latency", `${fmt(m.latency_ms_p50, 1)} ms`], ["p99 latency", `${fmt(m.latency_ms_p99, 1)} ms`]);
    if (m.backend !== undefined) facts.push(["Backend", m.backend], ["Check", `${fmt(m.check_ms, 1)} ms`]);
    box.append(h("div", { class: "card", "data-component": c.id },
      h("h3", { style: "margin-top:0" }, c.display_name || c.id, " ", h("span", { class: `badge status-${c.status}` }, c.status)),
      h("p", { class: "muted" }, c.description || ""),
      h("dl", { class: "meta" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])),
      (c.issues || []).map((i) => h("p", { class: "error-box" }, i.summary))));
  }
}

async function drawCharts(box, charts, dash) {
  const labels = dash.buckets.map((b) => b.slice(11, 16));
  if (!box.dataset.ready) {
    box.dataset.ready = "1";
    const totals = h("p", { id: "totals" });
    const canvases = {
      requests: h("canvas", { role: "img", "aria-label": "Requests per minute per component over the last hour; the table below has the values." }),
      latency: h("canvas", { role: "img", "aria-label": "API latency p50 and p99 per minute over the last hour; the table below has the values." }),
      errors: h("canvas", { role: "img", "aria-label": "Server errors per minute per component over the last hour; the table below has the values." }),
    };
    box.append(totals,
      h("div", { class: "grid" },
        h("figure", { style: "margin:0" }, h("figcaption", { class: "label" }, "Requests per minute"), h("div", { class: "chart-box small" }, canvases.requests)),
        h("figure", { style: "margin:0" }, h("figcaption", { class: "label" }, "API latency (ms)"), h("div", { class: "chart-box small" }, canvases.latency)),
        h("figure", { style: "margin:0" }, h("figcaption", { class: "label" }, "Server errors per minute"), h("div", { class: "chart-box small" }, canvases.errors))),
      h("details", { id: "series-table" }, h("summary", {}, "Show the chart data as a table"), h("div", { class: "series" })));
    // The chart library loads when the charts come on screen (not at all on a phone's first view).
    whenVisible(box, async () => {
      try {
        const Chart = await loadChart();
        const opts = { maintainAspectRatio: false, animation: false, interaction: { mode: "index", intersect: false },
          scales: { y: { beginAtZero: true, ticks: { color: "#374151", precision: 0 } }, x: { ticks: { color: "#374151", maxTicksLimit: 8 } } } };
        const line = (canvas, datasets) => new Chart(canvas, { type: "line", data: { labels: [], datasets }, options: opts });
        await nextTask();
        charts.requests = line(canvases.requests, Object.keys(COMPONENT_COLORS).map((k) => ({ label: k, data: [], borderColor: COMPONENT_COLORS[k], backgroundColor: COMPONENT_COLORS[k], pointRadius: 0, tension: 0.2 })));
        await nextTask();
        charts.latency = line(canvases.latency, [
          { label: "p50", data: [], borderColor: "#1d4ed8", backgroundColor: "#1d4ed8", pointRadius: 0 },
          { label: "p99", data: [], borderColor: "#b91c1c", backgroundColor: "#b91c1c", pointRadius: 0, borderDash: [6, 3] }]);
        await nextTask();
        charts.errors = new Chart(canvases.errors, { type: "bar", data: { labels: [], datasets: Object.keys(COMPONENT_COLORS).map((k) => ({ label: k, data: [], backgroundColor: COMPONENT_COLORS[k] })) }, options: opts });
        fillCharts(charts, charts.latest);
      } catch (err) {
        box.prepend(errorBox(err, "The chart library could not be loaded; the tables have every value"));
      }
    });
  }
  charts.latest = dash;
  fillCharts(charts, dash);
  const t = dash.totals;
  box.querySelector("#totals").textContent = `In the last ${dash.window_minutes} minutes: ${t.requests} requests, ${t.errors} server errors, ${t.ingests} ingests, ${t.downloads} downloads.`;
  const keys = Object.keys(COMPONENT_COLORS);
  const series = clear(box.querySelector(".series"));
  const rows = labels.map((label, i) => {
    if (!keys.some((k) => dash.series[k].requests[i])) return null;
    return h("tr", {}, h("td", {}, label), keys.map((k) => h("td", { class: "num" }, dash.series[k].requests[i])),
      h("td", { class: "num" }, keys.reduce((a, k) => a + dash.series[k].errors[i], 0)),
      h("td", { class: "num" }, fmt(dash.series.api.p50_ms[i], 1)), h("td", { class: "num" }, fmt(dash.series.api.p99_ms[i], 1)));
  }).filter(Boolean);
  series.append(rows.length
    ? table("Per minute (minutes without traffic left out)", ["Minute (UTC)", ["API", "num"], ["Ingest", "num"], ["Downloads", "num"], ["Errors", "num"], ["p50 ms", "num"], ["p99 ms", "num"]], rows)
    : h("p", { class: "empty" }, "No traffic in this window yet."));
}

function fillCharts(charts, dash) {
  if (!charts.errors || !dash) return;
  const labels = dash.buckets.map((b) => b.slice(11, 16));
  const keys = Object.keys(COMPONENT_COLORS);
  charts.requests.data.labels = labels;
  keys.forEach((k, i) => { charts.requests.data.datasets[i].data = dash.series[k].requests; });
  charts.requests.update("none");
  charts.latency.data.labels = labels;
  charts.latency.data.datasets[0].data = dash.series.api.p50_ms;
  charts.latency.data.datasets[1].data = dash.series.api.p99_ms;
  charts.latency.update("none");
  charts.errors.data.labels = labels;
  keys.forEach((k, i) => { charts.errors.data.datasets[i].data = dash.series[k].errors; });
  charts.errors.update("none");
}

function drawRoutes(box, routes) {
  clear(box);
  if (!routes.length) {
    box.append(h("p", { class: "empty" }, "No requests in the last hour."));
    return;
  }
  const rows = routes.map((r) => h("tr", {}, h("td", { class: "mono" }, r.route), h("td", { class: "num" }, r.requests),
    h("td", { class: "num" }, r.errors), h("td", { class: "num" }, r.client_errors), h("td", { class: "num" }, fmt(r.p50_ms, 1)), h("td", { class: "num" }, fmt(r.p99_ms, 1))));
  box.append(table("Requests, errors and latency per route", ["Route", ["Requests", "num"], ["5xx", "num"], ["4xx", "num"], ["p50 ms", "num"], ["p99 ms", "num"]], rows, { hideCaption: true }));
}

function workloadSection() {
  const models = field({ label: "Models in the registry", name: "wl-models", type: "number", value: "500", attrs: { min: 1, max: 2000 },
    hint: "Uploaded first (Tiny-LLM and small models) when the registry has fewer." });
  const clients = field({ label: "Clients", name: "wl-clients", type: "number", value: "100", attrs: { min: 1, max: 500 },
    hint: "Concurrent clients, each downloading Tiny-LLM again and again." });
  const seconds = field({ label: "Seconds", name: "wl-seconds", type: "number", value: "10", attrs: { min: 1, max: 120 },
    hint: "Length of the timed run." });
  const fields = { models, clients, seconds };
  const run = h("button", { type: "submit" }, "Run download workload");
  const progress = h("div", { class: "progress", "aria-live": "polite" });
  const result = h("div", { id: "workload-result" });
  const form = h("form", { novalidate: true }, h("div", { class: "row" }, models.wrap, clients.wrap, seconds.wrap),
    h("div", { class: "actions" }, run), progress, result);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clear(result);
    clear(progress);
    for (const f of Object.values(fields)) clearFieldError(f);
    setBusy(run, true, "Running…");
    let job;
    try {
      // As typed (the API says what is out of range); an empty field takes the default.
      const value = (f, fallback) => (f.input.value.trim() === "" ? fallback : Number(f.input.value));
      job = await api.post("/health/workload", {
        models: value(models, 500), clients: value(clients, 100), seconds: value(seconds, 10),
      });
    } catch (err) {
      setBusy(run, false);
      const key = Object.keys(fields).find((k) => new RegExp(k, "i").test(`${err.message} ${JSON.stringify(err.details || "")}`));
      showFieldError(fields[key] || models, err);
      return;
    }
    try {
      const text = h("p", {}, "Starting…");
      const bar = h("progress", { max: 1, value: 0, "aria-label": "Workload progress" });
      progress.append(text, bar);
      announce("Workload started.");
      let said = "";
      while (job.state === "running") {
        await new Promise((r) => setTimeout(r, 1000));
        job = await api.get("/health/workload");
        const line = job.phase === "seeding" ? `Registering models: ${job.done} of ${job.total} uploaded.`
          : job.phase === "downloading" ? `Downloading: ${job.done} of ${job.total} seconds.` : "Starting…";
        text.textContent = line;
        bar.max = Math.max(job.total, 1);
        bar.value = Math.min(job.done, bar.max);
        if (job.phase !== said) { said = job.phase; if (job.phase !== "starting") announce(line); }
      }
      clear(progress);
      if (job.state === "failed") {
        result.append(errorBox({ message: job.error }, "The workload failed"));
        announce("The workload failed.");
        return;
      }
      const r = job.result;
      const spec = job.spec;
      result.append(table("Workload result", ["Measure", ["Value", "num"]], [
        ["Registry", `${spec.models} models, ${spec.clients} clients`],
        ["Downloads", `${r.flows} (${r.errors} failed)`], ["Time", `${fmt(r.seconds, 2)} s`],
        ["Throughput", `${fmt(r.throughput_per_second, 1)} downloads/s`], ["Data rate", `${fmt(r.mb_per_second, 1)} MB/s`],
        ["Mean latency", `${fmt(r.mean_ms, 1)} ms`], ["Median latency", `${fmt(r.median_ms, 1)} ms`], ["p99 latency", `${fmt(r.p99_ms, 1)} ms`],
      ].map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", { class: "num" }, v)))));
      if (r.first_error) result.append(h("p", { class: "error-box" }, `First error: ${r.first_error}`));
      announce(`Workload finished: ${fmt(r.throughput_per_second, 1)} downloads per second, median ${fmt(r.median_ms, 0)} milliseconds, p99 ${fmt(r.p99_ms, 0)} milliseconds.`);
    } catch (err) {
      clear(progress).append(errorBox(err, "The workload's progress could not be read"));
    } finally {
      setBusy(run, false);
    }
  });
  return h("section", { class: "card", "aria-labelledby": "h-workload" }, h("h2", { id: "h-workload" }, "Download workload"),
    h("p", { class: "muted" }, "The reference experiment of ", h("code", {}, "tmr bench downloads"),
      " (REQUIREMENTS §1.7) against this registry: concurrent clients each run the download flow (the artifact’s metadata, then its signed download link) on Tiny-LLM for the given time; the result is throughput and mean, median and p99 latency. Defaults: 500 models, 100 clients."), form);
}

function logSection() {
  const level = selectField({ label: "Lowest level", name: "log-level", value: "", options: [["", "All"], ["info", "Info"], ["warning", "Warning"], ["error", "Error"]] });
  const component = selectField({ label: "Component", name: "log-component", value: "", options: [["", "All"], ["api", "API"], ["ingest", "Ingest"], ["downloads", "Downloads"], ["database", "Database"], ["blob-store", "Blob store"], ["monitors", "Monitors"]] });
  const route = field({ label: "Route contains", name: "log-route", attrs: { placeholder: "/artifact" } });
  const rid = field({ label: "Request id", name: "log-rid" });
  const submit = h("button", { type: "submit" }, "Show log lines");
  const out = h("div", { "aria-live": "polite" });
  const form = h("form", { novalidate: true }, h("div", { class: "row" }, level.wrap, component.wrap, route.wrap, rid.wrap, h("div", { class: "field end" }, submit)), out);
  async function load() {
    try {
      const data = await api.get("/health/logs", { query: { level: level.select.value, component: component.select.value, route: route.input.value.trim(), request_id: rid.input.value.trim(), limit: 100 } });
      clear(out);
      if (!data.lines.length) {
        out.append(h("p", { class: "empty" }, "No log lines match these filters."));
        return;
      }
      const rows = data.lines.map((l) => {
        const byId = l.request_id ? h("button", { type: "button", class: "link", "aria-label": `Show only request ${l.request_id}`,
          onclick: () => { rid.input.value = l.request_id; load(); } }, l.request_id) : "–";
        return h("tr", {}, h("td", {}, (l.ts || "").slice(11, 23)), h("td", { class: `level-${l.level}` }, l.level),
          h("td", {}, byId), h("td", {}, l.route || l.logger || ""), h("td", { class: "num" }, l.status ?? ""), h("td", { class: "msg" }, l.msg || ""));
      });
      out.append(h("p", { class: "muted" }, `${data.lines.length} newest lines of ${data.buffered} kept in memory.`),
        table("Log lines, newest first", ["Time (UTC)", "Level", "Request id", "Route or logger", ["Status", "num"], "Message"], rows, { class: "logs", scrollable: true, boxClass: "scroll-box" }));
    } catch (err) {
      clear(out).append(errorBox(err, "The log lines could not be read"));
    }
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    setBusy(submit, true, "Loading…");
    await load();
    setBusy(submit, false);
  });
  // Below the fold: the lines are fetched and drawn when the section comes on screen.
  const section = h("section", { class: "card", "aria-labelledby": "h-logs" }, h("h2", { id: "h-logs" }, "Logs"), form);
  whenVisible(section, load);
  return section;
}
