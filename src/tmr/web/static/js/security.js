// The security log (administrators): logins, account changes, denials, deletes, resets and
// refused ingests, oldest first as the API pages it, filtered by action, 100 at a time.
import { api } from "./api.js";
import { announce, clear, errorBox, h, pageHead, selectField, setBusy, table, when } from "./ui.js";

const ACTIONS = [
  ["", "All actions"], ["LOGIN", "Sign-ins"], ["LOGIN_FAILED", "Failed sign-ins"], ["LOGOUT", "Sign-outs"],
  ["TOKEN_REVOKE", "Token revocations"], ["USER_CREATE", "Users created"], ["USER_DELETE", "Users deleted"],
  ["USER_DISABLE", "Users disabled"], ["USER_ENABLE", "Users enabled"], ["PASSWORD_CHANGE", "Password changes"],
  ["PASSWORD_RESET", "Password resets"], ["ARTIFACT_DELETE", "Artifacts deleted"], ["RESET", "Registry resets"],
  ["DENIED", "Requests denied"], ["REJECT", "Ingests refused"],
];
const PAGE = 100;

export async function render(root) {
  const action = selectField({ label: "Action", name: "sec-action", value: "", options: ACTIONS,
    hint: "The log is kept oldest first; each page holds 100 events." });
  const show = h("button", { type: "submit" }, "Show events");
  const summary = h("p", { id: "security-summary", "aria-live": "polite" });
  const list = h("div", { class: "reserve-list" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Show the next 100");
  const form = h("form", { class: "row" }, action.wrap, h("div", { class: "field end" }, show));
  let shown = [];

  async function load(after, button) {
    setBusy(button, true, "Loading…");
    try {
      const events = await api.get("/audit/security", { query: { after, limit: PAGE, action: action.select.value } });
      shown = after ? shown.concat(events) : events;
      draw(events.length === PAGE);
      const text = shown.length ? `${shown.length} event${shown.length === 1 ? "" : "s"} shown${events.length === PAGE ? "; there are more" : ""}.` : "No events.";
      summary.textContent = text;
      announce(text);
    } catch (err) {
      clear(list).append(errorBox(err, "The security log could not be read"));
      summary.textContent = "";
    } finally {
      setBusy(button, false);
    }
  }

  function draw(hasMore) {
    clear(list);
    more.hidden = !hasMore;
    if (!shown.length) {
      list.append(h("p", { class: "empty" }, "No events of this kind yet."));
      return;
    }
    const rows = shown.map((e) => h("tr", {},
      h("td", { class: "num" }, String(e.seq)), h("td", {}, when(e.at)), h("td", {}, h("span", { class: "badge" }, e.action)),
      h("td", {}, e.actor), h("td", { class: "mono" }, e.subject), h("td", {}, e.detail || "–"), h("td", { class: "mono" }, e.client || "–")));
    list.append(table("Security events, oldest first", [["#", "num"], "When", "Action", "Who", "Subject", "Detail", "Client address"], rows,
      { scrollable: true, boxClass: "scroll-box" }));
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); load(0, show); });
  more.addEventListener("click", () => load(shown.length ? shown[shown.length - 1].seq : 0, more));
  root.append(pageHead("Security log"),
    h("section", { class: "card", "aria-labelledby": "h-sec-events" }, h("h2", { id: "h-sec-events", class: "visually-hidden" }, "Events"),
      form, summary, list, h("div", { class: "actions" }, more)));
  await load(0, show);
}
