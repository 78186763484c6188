// Small DOM helpers: element building (never innerHTML with data), announcements, errors,
// confirmation dialog, lazy loading of the vendored libraries, number formatting.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

let announceTimer;
/** Tell screen readers (aria-live region) what just happened. */
export function announce(message) {
  const region = document.getElementById("announcer");
  clear(region);
  clearTimeout(announceTimer);
  // A fresh text node after a tick makes repeated messages announced again.
  announceTimer = setTimeout(() => { region.textContent = message; }, 50);
}

let uid = 0;
export function nextId(prefix = "f") {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled input with its hint and an error slot, wired with aria-describedby. */
export function field({ label, name, type = "text", value = "", hint, required, attrs = {}, grow }) {
  const id = nextId(name);
  const hintId = hint ? `${id}-hint` : null;
  const errId = `${id}-err`;
  const input = h("input", {
    id, name, type, required, ...attrs,
    "aria-describedby": [hintId, errId].filter(Boolean).join(" "),
  });
  if (value !== undefined && value !== null) input.value = value;
  const error = h("p", { class: "field-error", id: errId, hidden: true });
  const wrap = h("div", { class: grow ? "field grow" : "field" },
    h("label", { for: id }, label), input,
    hint ? h("span", { class: "hint", id: hintId }, hint) : null, error);
  return { wrap, input, error };
}

export function selectField({ label, name, options, value, hint }) {
  const id = nextId(name);
  const hintId = hint ? `${id}-hint` : null;
  const select = h("select", { id, name, "aria-describedby": hintId },
    options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
  const wrap = h("div", { class: "field" },
    h("label", { for: id }, label), select, hint ? h("span", { class: "hint", id: hintId }, hint) : null);
  return { wrap, select };
}

export function checkboxes(legend, name, values, checked = []) {
  const boxes = values.map(([v, text]) => {
    const id = nextId(`${name}-${v}`);
    const input = h("input", { type: "checkbox", id, name, value: v, checked: checked.includes(v) });
    return { input, label: h("label", { for: id }, input, text) };
  });
  const set = h("fieldset", {}, h("legend", {}, legend), h("div", { class: "checks" }, boxes.map((b) => b.label)));
  return { wrap: set, values: () => boxes.filter((b) => b.input.checked).map((b) => b.input.value), boxes };
}

/** Show an API error next to the input (or form) that caused it. */
export function showFieldError(f, err) {
  f.error.hidden = false;
  f.error.textContent = describeError(err);
  f.input.setAttribute("aria-invalid", "true");
  f.input.focus();
}

export function clearFieldError(f) {
  f.error.hidden = true;
  f.error.textContent = "";
  f.input.removeAttribute("aria-invalid");
}

export function describeError(err) {
  if (!err) return "Something went wrong.";
  const status = err.status ? ` (HTTP ${err.status})` : "";
  return `${err.message || String(err)}${status}`;
}

/** An error box (role=alert) with the request id for support. */
export function errorBox(err, context) {
  return h("div", { class: "error-box", role: "alert" },
    h("strong", {}, context || "The registry refused this request"),
    describeError(err),
    err && err.requestId ? h("span", { class: "hint" }, `Request id: ${err.requestId}`) : null);
}

export function setBusy(button, busy, busyText) {
  if (busy) {
    button.dataset.label = button.textContent;
    button.textContent = busyText || "Working…";
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  } else {
    if (button.dataset.label) button.textContent = button.dataset.label;
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

/** The native modal dialog: focus is trapped and restored; Escape cancels. */
export function confirmDialog(title, text, confirmLabel = "Delete") {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = confirmLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}

const loaded = new Map();
/** Load a vendored UMD library once, on the pages that need it. */
export function loadScript(src, globalName) {
  if (window[globalName]) return Promise.resolve(window[globalName]);
  if (!loaded.has(src)) {
    loaded.set(src, new Promise((resolve, reject) => {
      const tag = h("script", { src });
      tag.addEventListener("load", () => resolve(window[globalName]));
      tag.addEventListener("error", () => reject(new Error(`could not load ${src}`)));
      document.head.append(tag);
    }));
  }
  return loaded.get(src);
}

/** Run fn once el is (about to be) on screen: below-the-fold charts cost nothing at load. */
export function whenVisible(el, fn) {
  if (!("IntersectionObserver" in window)) return fn();
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) {
      observer.disconnect();
      fn();
    }
  }, { rootMargin: "200px" });
  observer.observe(el);
  return undefined;
}

/** Yield to the browser so long work is split into short tasks. */
export const nextTask = () => new Promise((resolve) => { setTimeout(resolve, 0); });

export const loadChart = () => loadScript("/static/vendor/chart.umd.min.js", "Chart");
export const loadDagre = () => loadScript("/static/vendor/dagre.min.js", "dagre");

export function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i += 1; }
  return `${v.toFixed(v >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

export function fmt(n, digits = 2) {
  return typeof n === "number" && Number.isFinite(n) ? n.toFixed(digits) : "–";
}

export function typeBadge(type) {
  return h("span", { class: `badge ${type}` }, type);
}

export function pageHead(title, ...extra) {
  document.title = `${title} · Trustworthy Model Registry`;
  return h("div", { class: "page-head" }, h("h1", { id: "page-title" }, title), ...extra);
}

/** A heading with a badge right after the title (the artifact page). */
export function titleWithBadge(title, badge) {
  document.title = `${title} · Trustworthy Model Registry`;
  return h("div", { class: "page-head" }, h("h1", { id: "page-title" }, title, " ", badge));
}

export function table(caption, headers, rows, opts = {}) {
  return h("div", { class: opts.boxClass ? `table-wrap ${opts.boxClass}` : "table-wrap", tabindex: opts.scrollable ? "0" : null,
    role: opts.scrollable ? "region" : null, "aria-label": opts.scrollable ? caption : null },
  h("table", { class: opts.class },
    h("caption", { class: opts.hideCaption ? "visually-hidden" : null }, caption),
    h("thead", {}, h("tr", {}, headers.map((x) => {
      const [text, cls] = Array.isArray(x) ? x : [x, null];
      return h("th", { scope: "col", class: cls }, text);
    }))),
    h("tbody", {}, rows)));
}

/**
 * A modal form in the native <dialog> (focus trapped and restored, Escape cancels): `fields`
 * are from field(); `submit(values)` runs on confirm and throws an ApiError to keep the dialog
 * open with the message next to the field `errorField(err)` picks. Resolves true once submitted.
 */
export function formDialog({ title, text, fields, confirmLabel, submit, errorField }) {
  const titleId = nextId("dlg-title");
  const ok = h("button", { type: "submit", value: "ok" }, confirmLabel);
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const formError = h("div", { "aria-live": "polite" });
  const form = h("form", { novalidate: true }, text ? h("p", {}, text) : null,
    fields.map((f) => f.wrap), formError, h("div", { class: "actions" }, cancel, ok));
  const dialog = h("dialog", { "aria-labelledby": titleId }, h("h2", { id: titleId }, title), form);
  const opener = document.activeElement;
  document.body.append(dialog);
  return new Promise((resolve) => {
    let done = false;
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(done);
    });
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      for (const f of fields) clearFieldError(f);
      clear(formError);
      setBusy(ok, true, "Working…");
      try {
        await submit(fields.map((f) => f.input.value));
        done = true;
        dialog.close();
      } catch (err) {
        setBusy(ok, false);
        const target = errorField ? errorField(err) : fields[0];
        if (target) showFieldError(target, err);
        else formError.append(errorBox(err));
      }
    });
    dialog.showModal();
    fields[0]?.input.focus();
  });
}

/** A date-time from the API (ISO 8601) in the reader's locale, with the ISO text kept. */
export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : h("time", { datetime: iso }, d.toLocaleString());
}
