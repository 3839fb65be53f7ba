// The open conversation: the whole transcript (the bot's part too), the composer with
// canned replies, and ending the handoff. Replies go through an outbox kept in
// localStorage: a reply typed while offline is sent, once, when the connection is back.

import { ApiError, get, post } from "./api.js";
import { clientId, fill, h, toast } from "./dom.js";
import { lang, named, refusal, t, when } from "./i18n.js";

export async function openChat(container, conversation, me, onChanged) {
  // the replies not yet taken by the API, per staff member (one browser, several agents)
  const OUTBOX = `console-outbox:${me.id}`;
  const outbox = () => {
    try {
      return JSON.parse(localStorage.getItem(OUTBOX)) || [];
    } catch {
      return [];
    }
  };
  const saveOutbox = (items) => localStorage.setItem(OUTBOX, JSON.stringify(items));

  const holding = conversation.mode === "agent" && conversation.agent_id === me.id;
  const transcript = h("div", { class: "transcript", role: "log", "aria-live": "polite",
    "aria-label": t("transcript"), tabindex: "0" });
  const shown = new Map(); // message id → node
  let lastId = 0;

  function messageNode(message) {
    const who = t("from")[message.sender] || message.sender;
    const state = message.pending ? t("pending") : message.delivered_at ? t("delivered") : "";
    const buttons = message.payload?.buttons?.map((b) => b.title) || [];
    return h("div", { class: `msg ${message.sender}` + (message.pending ? " pending" : "") },
      h("span", { class: "who" }, `${who} · ${when(message.created_at)}${state ? " · " + state : ""}`),
      message.text || (message.payload?.button ? `[${message.payload.button}]` : ""),
      buttons.length ? h("span", { class: "offered" }, `${t("offered")}: ${buttons.join(" | ")}`) : null);
  }

  function show(message) {
    const node = messageNode(message);
    const old = shown.get(message.id);
    if (old) old.replaceWith(node);
    else transcript.append(node);
    shown.set(message.id, node);
    if (typeof message.id === "number") lastId = Math.max(lastId, message.id);
    transcript.scrollTop = transcript.scrollHeight;
  }

  async function catchUp() {
    const found = await get(`/conversations/${conversation.id}/messages?after_id=${lastId}&limit=500`);
    found.forEach((message) => {
      const pending = message.channel_message_id && shown.get(message.channel_message_id);
      if (pending) { // our reply, now logged
        pending.remove();
        shown.delete(message.channel_message_id);
      }
      show(message);
    });
    await flush();
  }

  async function flush() {
    for (const item of outbox().filter((i) => i.conversation_id === conversation.id)) {
      try {
        await post(`/conversations/${conversation.id}/messages`, { text: item.text, channel_message_id: item.id });
      } catch (error) {
        if (!(error instanceof ApiError)) return; // offline: kept, tried again on reconnect
        toast(refusal(error));
      }
      saveOutbox(outbox().filter((i) => i.id !== item.id));
    }
  }

  async function send(text) {
    const item = { conversation_id: conversation.id, id: clientId(), text };
    saveOutbox([...outbox(), item]);
    show({ id: item.id, sender: "agent", text, pending: true, created_at: new Date().toISOString() });
    await flush();
    await catchUp().catch(() => {});
  }

  const input = h("textarea", { id: "reply", "aria-label": t("reply"), disabled: !holding });
  const canned = h("select", { "aria-label": t("insertCanned"), disabled: !holding },
    h("option", { value: "" }, t("insertCanned")));
  const replies = await get("/canned-replies").catch(() => []);
  replies.forEach((reply) => canned.append(h("option", { value: reply.id }, reply.title)));
  canned.addEventListener("change", () => {
    const reply = replies.find((r) => String(r.id) === canned.value);
    if (!reply) return;
    const language = conversation.language || lang();
    input.value += (input.value ? "\n" : "") + (language === "en" ? reply.en : reply.zh);
    canned.value = "";
    input.focus();
  });
  const form = h("form", { class: "composer" },
    input,
    h("button", { class: "primary", type: "submit", disabled: !holding }, t("send")),
    h("div", { class: "tools" }, canned));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text).catch((error) => toast(refusal(error)));
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  const end = holding && h("button", { class: "danger", type: "button", onclick: async () => {
    await flush();
    await post(`/conversations/${conversation.id}/release`);
    toast(t("ended"));
    await onChanged();
    location.hash = "#/workspace";
  } }, t("endHandoff"));

  fill(container,
    h("header", {},
      h("h2", {}, `#${conversation.id} · ${named("channel", conversation.channel)} · ${named("mode", conversation.mode)}`),
      conversation.ticket_ref && h("span", { class: "badge" }, conversation.ticket_ref),
      end),
    transcript,
    holding ? form : h("p", { class: "placeholder" }, t("notHolding")));

  await catchUp();
  outbox().filter((i) => i.conversation_id === conversation.id).forEach((item) =>
    show({ id: item.id, sender: "agent", text: item.text, pending: true }));
  if (holding) input.focus();

  // replies kept while offline go out when the network is back, or at the next try
  const retry = () => {
    if (!container.isConnected) return stop();
    if (outbox().some((i) => i.conversation_id === conversation.id)) catchUp().catch(() => {});
  };
  const timer = setInterval(retry, 5000);
  window.addEventListener("online", retry);
  function stop() {
    clearInterval(timer);
    window.removeEventListener("online", retry);
  }

  return {
    catchUp: () => catchUp().catch(() => {}),
    onEvent: (event) => {
      if (event.type === "message") catchUp().catch(() => {});
      if (event.type === "conversation") onChanged();
    },
    send,
  };
}
