// The shell: navigation shaped by the user's permissions, hash routing, focus management.
import { session, signIn, signOut, whenSignedOut, whenTokenExpires } from "./api.js";
import { announce, clear, errorBox, field, h, pageHead, setBusy, showFieldError } from "./ui.js";

const main = document.getElementById("main");
let cleanup = [];
let pendingNotice = ""; // said together with the next page's name (sign-out results)

/** Views register timers etc. here; they are stopped when the page changes. */
export function onLeave(fn) { cleanup.push(fn); }

const ROUTES = [
  { pattern: /^\/?$/, view: () => import("./browse.js"), name: "Artifacts", nav: "#/", needs: "search" },
  { pattern: /^\/artifact\/(model|dataset|code)\/([A-Za-z0-9-]+)$/, view: () => import("./artifact.js"), needs: "search" },
  { pattern: /^\/register$/, view: () => import("./register.js"), name: "Register", nav: "#/register", needs: "upload" },
  { pattern: /^\/upload$/, view: () => import("./register.js").then((m) => ({ render: m.renderUpload })), name: "Upload", nav: "#/upload", needs: "upload" },
  { pattern: /^\/groups$/, view: () => import("./groups.js"), name: "Groups", nav: "#/groups", needs: "upload" },
  { pattern: /^\/groups\/([A-Za-z0-9-]+)$/, view: () => import("./groups.js").then((m) => ({ render: m.renderGroup })), needs: "upload" },
  { pattern: /^\/users$/, view: () => import("./users.js"), name: "Users", nav: "#/users", needs: "admin" },
  { pattern: /^\/audit$/, view: () => import("./protections.js"), name: "Confusion audit", nav: "#/audit", needs: "search" },
  { pattern: /^\/security$/, view: () => import("./security.js"), name: "Security log", nav: "#/security", needs: "admin" },
  { pattern: /^\/health$/, view: () => import("./dashboard.js"), name: "Health", nav: "#/health", needs: null },
  { pattern: /^\/account$/, view: () => import("./account.js"), name: "Account", nav: "#/account", needs: "signed-in" },
  { pattern: /^\/signin$/, view: async () => ({ render: renderSignIn }), needs: null },
];

function currentPath() {
  return decodeURIComponent(window.location.hash.replace(/^#/, "")) || "/";
}

function renderNav() {
  const nav = clear(document.getElementById("nav"));
  const path = currentPath();
  for (const r of ROUTES) {
    if (!r.nav) continue;
    if (r.needs && !session.can(r.needs)) continue;
    const active = r.pattern.test(path);
    nav.append(h("li", {}, h("a", { href: r.nav, "aria-current": active ? "page" : null }, r.name)));
  }
  const who = clear(document.getElementById("who"));
  const user = session.user;
  if (user) {
    who.append(
      h("span", { class: "name", title: user.name }, h("span", { class: "visually-hidden" }, "Signed in as "), h("strong", {}, user.name), user.is_admin ? " (admin)" : ""),
      h("button", { type: "button", onclick: onSignOut }, "Sign out"),
    );
  } else if (path !== "/signin") {
    who.append(h("a", { class: "button secondary", href: "#/signin" }, "Sign in"));
  }
}

async function onSignOut(e) {
  setBusy(e.currentTarget, true, "Signing out…");
  await signOut();
}

whenSignedOut(() => {
  if (window.location.hash === "#/signin") route();
  else window.location.hash = "#/signin";
});

whenTokenExpires(() => {
  session.clear();
  sessionStorage.setItem("tmr.flash", "Your session has ended (the token expired or ran out of calls). Please sign in again.");
  window.location.hash = "#/signin";
});

async function route() {
  for (const fn of cleanup) fn();
  cleanup = [];
  const path = currentPath();
  const match = ROUTES.map((r) => [r, r.pattern.exec(path)]).find(([, m]) => m);
  renderNav();
  clear(main);
  if (!match) {
    main.append(pageHead("Page not found"), h("p", {}, "There is no page here. ", h("a", { href: "#/" }, "Go to the artifacts.")));
    return focusMain();
  }
  const [r, m] = match;
  if (r.needs && !session.user) {
    sessionStorage.setItem("tmr.next", window.location.hash);
    window.location.hash = "#/signin";
    return undefined;
  }
  if (r.needs && !session.can(r.needs)) {
    main.append(pageHead("Not allowed"), h("p", {}, `Your account does not have the “${r.needs}” permission needed for this page.`));
    return focusMain();
  }
  try {
    const mod = await r.view();
    await mod.render(main, ...m.slice(1));
  } catch (err) {
    main.append(errorBox(err, "This page could not be loaded"));
  }
  return focusMain();
}

function focusMain() {
  const heading = document.getElementById("page-title");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: false });
    announce(`${heading.textContent} page.${pendingNotice ? ` ${pendingNotice}` : ""}`);
    pendingNotice = "";
  } else main.focus();
}

function renderSignIn(root) {
  if (session.user) {
    window.location.hash = "#/";
    return;
  }
  const flash = sessionStorage.getItem("tmr.flash");
  sessionStorage.removeItem("tmr.flash");
  const notice = sessionStorage.getItem("tmr.notice");
  sessionStorage.removeItem("tmr.notice");
  pendingNotice = notice || flash || "";
  const name = field({ label: "User name", name: "username", required: true, attrs: { autocomplete: "username" } });
  const password = field({ label: "Password", name: "password", type: "password", required: true, attrs: { autocomplete: "current-password" } });
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h("form", { novalidate: true }, name.wrap, password.wrap, h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const f of [name, password]) { f.error.hidden = true; f.input.removeAttribute("aria-invalid"); }
    if (!name.input.value.trim()) return showFieldError(name, { message: "Enter your user name." });
    if (!password.input.value) return showFieldError(password, { message: "Enter your password." });
    setBusy(submit, true, "Signing in…");
    try {
      const me = await signIn(name.input.value.trim(), password.input.value);
      announce(`Signed in as ${me.name}.`);
      const next = sessionStorage.getItem("tmr.next");
      sessionStorage.removeItem("tmr.next");
      window.location.hash = next && next !== "#/signin" ? next : "#/";
    } catch (err) {
      setBusy(submit, false);
      showFieldError(password, err);
    }
    return undefined;
  });
  root.append(h("div", { class: "narrow" },
    h("div", { class: "card" },
      pageHead("Sign in"),
      flash ? h("div", { class: "error-box", role: "alert" }, flash) : null,
      notice ? h("p", { class: "ok-box" }, notice) : null,
      h("p", { class: "muted" }, "Sign in with the account an administrator gave you."),
      form),
    h("p", { class: "muted" }, "The ", h("a", { href: "#/health" }, "health dashboard"), " is open to everyone.")));
}

// The skip link must not change the hash (that is the router's).
document.querySelector(".skip-link").addEventListener("click", (e) => {
  e.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", route);
route();
