// Browse and search: everything, a regular expression, an exact name or a version query,
// filtered by type, paged 20 at a time (server pages of the enumeration are fetched on demand).
import { ApiError, call } from "./api.js";
import { stateBadge } from "./protections.js";
import {
  announce, checkboxes, clear, clearFieldError, errorBox, field, h, pageHead, selectField,
  setBusy, showFieldError, table, typeBadge,
} from "./ui.js";

const PAGE = 20;
const MODES = [
  ["all", "Everything (name filter *)"],
  ["regex", "Regular expression (names and READMEs)"],
  ["name", "Exact name"],
  ["version", "Version query (1.2.3, 1.0.0-2.0.0, ~1.2.0, ^1.2.0)"],
];

const state = { mode: "all", query: "", types: [], items: [], nextOffset: null, page: 0, searched: false };

export async function render(root) {
  const mode = selectField({ label: "Search by", name: "mode", options: MODES, value: state.mode });
  const query = field({ label: "Search text", name: "q", type: "search", value: state.query, grow: true,
    hint: "Leave empty with “Everything” to list all artifacts." });
  const types = checkboxes("Types", "type", [["model", "Models"], ["dataset", "Datasets"], ["code", "Code"]], state.types);
  const submit = h("button", { type: "submit" }, "Search");
  const results = h("div", { id: "results" });
  const form = h("form", { role: "search", "aria-label": "Artifacts" },
    h("div", { class: "row" }, mode.wrap, query.wrap),
    h("div", { class: "row" }, types.wrap, h("div", { class: "field end" }, submit)));

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearFieldError(query);
    state.mode = mode.select.value;
    state.query = query.input.value.trim();
    state.types = types.values();
    if (state.mode !== "all" && !state.query) {
      showFieldError(query, { message: "Enter something to search for, or choose “Everything”." });
      return;
    }
    setBusy(submit, true, "Searching…");
    try {
      await search();
      state.page = 0;
      drawResults(results);
      announce(summaryText());
    } catch (err) {
      state.items = [];
      state.searched = false;
      clear(results);
      if (err instanceof ApiError && err.status === 404) {
        state.searched = true;
        drawResults(results);
        announce("No artifacts match.");
      } else if (err instanceof ApiError && err.status === 400) {
        showFieldError(query, err);
      } else {
        results.append(errorBox(err, "The search failed"));
      }
    } finally {
      setBusy(submit, false);
    }
  });

  root.append(pageHead("Artifacts"), h("div", { class: "card" }, form), results);
  if (!state.searched) {
    form.requestSubmit();
  } else {
    drawResults(results);
  }
}

function typesOrNull() {
  return state.types.length ? state.types : null;
}

async function search() {
  state.items = [];
  state.nextOffset = null;
  state.searched = true;
  const types = typesOrNull();
  if (state.mode === "all") {
    await fetchEnumeratePage(null);
  } else if (state.mode === "regex") {
    const { data } = await call("POST", "/artifact/byRegEx", { body: { regex: state.query } });
    state.items = filterTypes(data);
  } else if (state.mode === "name") {
    const { data } = await call("GET", `/artifact/byName/${encodeURIComponent(state.query)}`);
    state.items = filterTypes(data);
  } else {
    const body = { version: state.query };
    if (types) body.types = types;
    const { data } = await call("POST", "/artifact/byVersion", { body });
    state.items = data;
  }
}

async function fetchEnumeratePage(offset) {
  const q = { name: "*" };
  if (typesOrNull()) q.types = state.types;
  const { data, headers } = await call("POST", "/artifacts", { body: [q], query: { offset } });
  state.items = state.items.concat(data);
  state.nextOffset = headers.get("offset");
}

function filterTypes(items) {
  const types = typesOrNull();
  return types ? items.filter((a) => types.includes(a.type)) : items;
}

function summaryText() {
  const n = state.items.length;
  const more = state.nextOffset ? " or more" : "";
  if (!n) return "No artifacts match.";
  return `${n}${more} artifact${n === 1 ? "" : "s"} found; showing ${state.page * PAGE + 1} to ${Math.min(n, (state.page + 1) * PAGE)}.`;
}

function drawResults(results) {
  clear(results);
  if (!state.items.length) {
    results.append(h("div", { class: "card empty" },
      h("h2", {}, "Nothing here yet"),
      h("p", {}, state.mode === "all" && !state.types.length
        ? "The registry is empty. Register a model, dataset or code repository by URL, or upload a zip."
        : "No artifacts match this search. Try another query or fewer type filters."),
      h("p", { class: "actions", style: "justify-content:center" },
        h("a", { class: "button", href: "#/register" }, "Register by URL"),
        h("a", { class: "button secondary", href: "#/upload" }, "Upload a zip"))));
    return;
  }
  const start = state.page * PAGE;
  const rows = state.items.slice(start, start + PAGE).map((a) => h("tr", {},
    h("td", {}, h("a", { href: `#/artifact/${a.type}/${a.id}` }, a.name),
      a.lifecycle ? [" ", stateBadge(a.lifecycle.state)] : null,
      a.warnings && a.warnings.length ? h("span", { class: "hint" }, a.warnings.join(" ")) : null),
    h("td", {}, typeBadge(a.type)),
    a.version !== undefined ? h("td", {}, a.version) : null,
    h("td", { class: "mono id-col" }, a.id)));
  const headers = ["Name", "Type"];
  if (state.items[0].version !== undefined) headers.push("Version");
  headers.push(["Id", "id-col"]);
  const last = start + PAGE >= state.items.length;
  const prev = h("button", { type: "button", class: "secondary", disabled: state.page === 0,
    onclick: () => { state.page -= 1; drawResults(results); announce(summaryText()); results.querySelector("table").focus(); } }, "Previous page");
  const next = h("button", { type: "button", class: "secondary", disabled: last && !state.nextOffset,
    onclick: async () => {
      if (last && state.nextOffset) {
        setBusy(next, true, "Loading…");
        try { await fetchEnumeratePage(state.nextOffset); } catch (err) { results.append(errorBox(err)); return; }
      }
      state.page += 1;
      drawResults(results);
      announce(summaryText());
      results.querySelector("table").focus();
    } }, "Next page");
  const tableEl = table("Matching artifacts", headers, rows);
  tableEl.querySelector("table").setAttribute("tabindex", "-1");
  results.append(h("div", { class: "card" },
    h("p", { class: "muted", id: "result-summary" }, summaryText()),
    tableEl,
    h("nav", { class: "actions", "aria-label": "Result pages", style: "margin-top:0.75rem" }, prev, next)));
}
