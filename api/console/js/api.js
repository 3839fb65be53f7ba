// The API as the console uses it: the staff login token, JSON requests with clear errors,
// and the live event stream (/api/v1/console/events) with reconnects.

const TOKEN = "console-token";

export class ApiError extends Error {
  constructor(status, detail, body) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.body = body;
  }
}

/** The login token lives in sessionStorage: it ends with the browser tab, and is never
 *  put in a URL. */
export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN);
  },
  set token(value) {
    if (value) sessionStorage.setItem(TOKEN, value);
    else sessionStorage.removeItem(TOKEN);
  },
};

export async function login(username, password) {
  const form = new URLSearchParams({ username, password });
  const response = await fetch("/api/v1/auth/token", { method: "POST", body: form });
  if (!response.ok) throw new ApiError(response.status, "login failed");
  session.token = (await response.json()).access_token;
}

/** A JSON call; `ApiError` for 4xx/5xx (with the API's detail), TypeError when offline. */
export async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${session.token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    session.token = null;
    location.reload(); // back to the login
    throw new ApiError(401, "not logged in");
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data?.detail ?? response.statusText, data);
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body ?? {});

/** The live events: `onEvent(event)` for each, `onState(connected)` on every change.
 *  Reconnects with backoff; after a reconnect `onState(true)` tells the views to fetch
 *  what they may have missed. */
export function listen(onEvent, onState) {
  let retry = 0;
  let socket = null;
  let stopped = false;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/api/v1/console/events`);
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "auth", token: session.token }));
    });
    socket.addEventListener("message", (message) => {
      const event = JSON.parse(message.data);
      if (event.type === "ready") {
        retry = 0;
        onState(true);
      } else if (event.type === "error") {
        stopped = true;
        session.token = null;
        location.reload();
      } else {
        onEvent(event);
      }
    });
    socket.addEventListener("close", () => {
      onState(false);
      if (stopped) return;
      setTimeout(connect, Math.min(15000, 500 * 2 ** retry++));
    });
  }

  window.addEventListener("online", () => socket?.readyState === WebSocket.CLOSED && connect());
  connect();
}
