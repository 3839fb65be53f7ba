// The console's frame: login, the header (language, availability, connection), the pages
// (#/workspace, #/supervisor, #/qa, #/canned) and the live events every page listens to.

import { ApiError, get, listen, login, api, session } from "./api.js";
import { fill, h, toast } from "./dom.js";
import { lang, named, refusal, setLang, t } from "./i18n.js";
import { workspace } from "./workspace.js";
import { supervisorPage } from "./supervisor.js";
import { cannedPage } from "./canned.js";
import { qaPage } from "./qa.js";

const root = document.getElementById("app");
const state = { me: null, connected: false, page: null };
const listeners = new Set(); // the open page's event handlers

export const events = {
  on(handler) {
    listeners.add(handler);
    return () => listeners.delete(handler);
  },
};

const isSupervisor = (me) => me.role === "supervisor" || me.role === "admin";

function loginPage() {
  const error = h("p", { class: "error", role: "alert" });
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h(
    "form",
    { class: "login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, t("title")),
    h("label", { for: "username" }, t("username")),
    username,
    h("label", { for: "password" }, t("password")),
    password,
    h("button", { class: "primary", type: "submit" }, t("login")),
    error,
    h("p", {}, h("button", { type: "button", onclick: switchLanguage }, t("language"))),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await login(username.value.trim(), password.value);
      await start();
    } catch {
      error.textContent = t("loginFailed");
      password.select();
    }
  });
  fill(root, h("main", { id: "main" }, form));
  username.focus();
}

function switchLanguage() {
  setLang(lang() === "zh" ? "en" : "zh");
  render();
}

function header() {
  const me = state.me;
  const link = (hash, label) =>
    h("a", { href: hash, "aria-current": location.hash.startsWith(hash) ? "page" : null }, label);
  const availability = h(
    "button",
    {
      type: "button",
      "aria-pressed": String(me.available),
      onclick: async () => {
        state.me = await api("PUT", "/staff/me/availability", { available: !me.available });
        render();
      },
    },
    me.available ? t("available") : t("away"),
  );
  return h(
    "header",
    { class: "top" },
    h("h1", {}, t("title")),
    h(
      "nav",
      { "aria-label": t("pages") },
      link("#/workspace", t("workspace")),
      isSupervisor(me) && link("#/supervisor", t("supervisor")),
      link("#/qa", t("qa")),
      link("#/canned", t("canned")),
    ),
    h(
      "span",
      { class: "connection" + (state.connected ? "" : " off"), role: "status" },
      state.connected ? t("online") : t("offline"),
    ),
    h("span", { class: "who" }, `${me.display_name} · ${named("role", me.role)}`),
    availability,
    h("button", { type: "button", onclick: switchLanguage, "aria-label": t("languageLabel") }, t("language")),
    h("button", { type: "button", onclick: () => { session.token = null; location.hash = ""; location.reload(); } }, t("logout")),
  );
}

function render() {
  document.title = t("title");
  if (!state.me) return loginPage();
  const hash = location.hash || "#/workspace";
  const main = h("main", { id: "main", tabindex: "-1" });
  fill(root, header(), main);
  listeners.clear();
  const context = { me: state.me, main, events, connected: () => state.connected };
  if (hash.startsWith("#/supervisor")) {
    if (isSupervisor(state.me)) supervisorPage(context);
    else fill(main, h("p", { class: "refused", role: "alert" }, t("refused")));
  } else if (hash.startsWith("#/qa")) {
    qaPage(context);
  } else if (hash.startsWith("#/canned")) {
    cannedPage(context);
  } else {
    workspace(context);
  }
}

async function start() {
  state.me = await get("/auth/me");
  setLang(lang());
  render();
  listen(
    (event) => listeners.forEach((handler) => handler(event)),
    (connected) => {
      state.connected = connected;
      const badge = root.querySelector(".connection");
      if (badge) {
        badge.className = "connection" + (connected ? "" : " off");
        badge.textContent = connected ? t("online") : t("offline");
      }
      if (connected) listeners.forEach((handler) => handler({ type: "reconnected" }));
    },
  );
}

window.addEventListener("hashchange", () => state.me && render());
window.addEventListener("unhandledrejection", (event) => {
  if (event.reason instanceof ApiError) toast(refusal(event.reason));
});

setLang(lang());
if (session.token) start().catch(() => { session.token = null; render(); });
else render();
