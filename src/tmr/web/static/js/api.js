// The JSON API client: the token lives in sessionStorage (gone when the tab closes).

const TOKEN = "tmr.token";
const USER = "tmr.user";

export class ApiError extends Error {
  constructor(status, body, requestId) {
    const message = (body && (body.message || body.detail)) || `HTTP ${status}`;
    super(typeof message === "string" ? message : JSON.stringify(message));
    this.status = status;
    this.code = body && body.error;
    this.details = body && body.details;
    this.requestId = (body && body.request_id) || requestId;
  }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN); },
  get user() {
    try { return JSON.parse(sessionStorage.getItem(USER) || "null"); } catch { return null; }
  },
  save(token, user) {
    sessionStorage.setItem(TOKEN, token);
    sessionStorage.setItem(USER, JSON.stringify(user));
  },
  clear() {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(USER);
  },
  can(permission) {
    const u = this.user;
    if (permission === "signed-in") return !!u;
    return !!u && (u.is_admin || (u.permissions || []).includes(permission));
  },
};

let onExpired = () => {};
export function whenTokenExpires(fn) { onExpired = fn; }

/** Call the API; returns {data, headers}; throws ApiError with the server's message. */
export async function call(method, path, { body, query, raw, headers = {} } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const h = { ...headers };
  if (session.token) h["X-Authorization"] = session.token;
  let payload = body;
  if (body !== undefined && !(body instanceof FormData)) {
    h["content-type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, { method, headers: h, body: payload });
  } catch {
    throw new ApiError(0, { message: "The registry cannot be reached. Check the connection and try again." });
  }
  if (raw && res.ok) return { response: res, headers: res.headers };
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, typeof data === "object" ? data : { message: data }, res.headers.get("x-request-id"));
    if (res.status === 403 && session.token && /token/i.test(err.message)) onExpired(err);
    throw err;
  }
  return { data, headers: res.headers };
}

export const api = {
  get: (path, opts) => call("GET", path, opts).then((r) => r.data),
  post: (path, body, opts = {}) => call("POST", path, { ...opts, body }).then((r) => r.data),
  put: (path, body) => call("PUT", path, { body }).then((r) => r.data),
  del: (path) => call("DELETE", path).then((r) => r.data),
};

let onSignedOut = () => {};
export function whenSignedOut(fn) { onSignedOut = fn; }

/** Forget the session in this tab (its token is already revoked) and go to the sign-in page. */
export function signOutLocally(notice) {
  session.clear();
  if (notice) sessionStorage.setItem("tmr.notice", notice);
  onSignedOut(notice);
}

/**
 * Sign out: the registry revokes the token (POST /logout), then the tab forgets it. Returns
 * what happened, for the sign-in page to say. A token that had already ended is just forgotten.
 */
export async function signOut() {
  let notice = "Signed out. The registry revoked your token.";
  const token = session.token;
  if (token) {
    try {
      const res = await fetch("/logout", { method: "POST", headers: { "X-Authorization": token } });
      if (res.status === 403) notice = "Signed out (your token had already ended).";
      else if (!res.ok) notice = `Signed out in this tab, but the registry did not revoke the token (HTTP ${res.status}); revoke it on your account page after signing in.`;
    } catch {
      notice = "Signed out in this tab, but the registry could not be reached to revoke the token.";
    }
  }
  signOutLocally(notice);
  return notice;
}

export async function signIn(name, password) {
  const token = await api.put("/authenticate", {
    user: { name, is_admin: false },
    secret: { password },
  });
  sessionStorage.setItem(TOKEN, token);
  try {
    const me = await api.get("/users/me");
    session.save(token, me);
    return me;
  } catch (err) {
    session.clear();
    throw err;
  }
}

/** Upload with progress (fetch cannot report upload progress; XMLHttpRequest can). */
export function uploadWithProgress(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    if (session.token) xhr.setRequestHeader("X-Authorization", session.token);
    xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded, e.lengthComputable ? e.total : 0));
    xhr.addEventListener("load", () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { data = { message: xhr.responseText }; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, data, xhr.getResponseHeader("x-request-id")));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, { message: "The upload was interrupted: the registry cannot be reached." })));
    xhr.send(form);
  });
}
