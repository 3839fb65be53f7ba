// The agent's workspace: the queue and the agent's conversations (left), the open chat
// (middle), the customer and the ticket (right). Live: the event stream refreshes the
// lists and brings the customer's messages; the open conversation is in the URL
// (#/workspace/<id>), so a reload reopens it.

import { get, post } from "./api.js";
import { fill, h, toast } from "./dom.js";
import { named, refusal, t, waitedSince } from "./i18n.js";
import { openChat } from "./chat.js";
import { renderPanel } from "./panel.js";

const SUMMARY_SLOTS = ["product", "product_model", "problem", "complaint_details", "service_type",
  "remedy", "ticket_ref"];

export function workspace({ me, main, events }) {
  const queueList = h("ul", { class: "list", "aria-live": "polite", "aria-label": t("queue") });
  const mineList = h("ul", { class: "list", "aria-label": t("mine") });
  const chatColumn = h("section", { class: "chat", "aria-label": t("transcript") });
  const panelColumn = h("aside", { class: "column panel", "aria-label": t("customer") });
  fill(
    main,
    h("div", { class: "workspace" },
      h("nav", { class: "column", "aria-label": t("queue") },
        h("section", {}, h("h2", {}, t("queue")), queueList),
        h("section", {}, h("h2", {}, t("mine")), mineList)),
      chatColumn,
      panelColumn),
  );

  const LAST_OPEN = `console-open:${me.id}`;
  let chat = null;
  let openId = Number((location.hash.split("/")[2] || "").trim()) || null;
  let refreshTimer = null;
  let shownLists = ""; // what the lists show, so an unchanged queue is not read out again

  async function refreshLists() {
    const [waiting, mine] = await Promise.all([
      get("/conversations?mode=waiting"),
      get("/conversations?mine=true"),
    ]);
    const held = mine.filter((c) => c.mode === "agent");
    const now = JSON.stringify([waiting, held.map((c) => [c.id, c.ticket_ref]), openId]);
    if (now === shownLists) return held;
    shownLists = now;
    fill(queueList, waiting.length ? waiting.map(queueCard) : h("li", { class: "empty" }, t("noQueue")));
    fill(mineList, held.length ? held.map(mineCard) : h("li", { class: "empty" }, t("noMine")));
    return held;
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => refreshLists().catch(() => {}), 120);
  }

  function summaryLines(conversation) {
    const slots = conversation.summary?.slots || {};
    const lines = SUMMARY_SLOTS.filter((name) => slots[name]).map((name) => `${name}: ${slots[name]}`);
    const last = conversation.summary?.last_message;
    return [
      lines.length ? h("div", { class: "summary" }, lines.join(" · ")) : null,
      last ? h("div", { class: "summary" }, `${t("lastMessage")}: “${last}”`) : null,
    ];
  }

  function queueCard(conversation) {
    const waited = h("span", { class: "meta", "aria-live": "off", dataset: { since: conversation.waiting_since } },
      `${t("waited")} ${waitedSince(conversation.waiting_since)}`);
    return h("li", { class: "card" + (conversation.urgent ? " urgent" : ""), dataset: { id: conversation.id } },
      h("div", { class: "row" },
        h("strong", {}, `#${conversation.id} · ${named("channel", conversation.channel)}`),
        conversation.urgent && h("span", { class: "badge warn" }, t("urgent"))),
      h("div", { class: "meta" }, `${t("reason")}: ${named("reason", conversation.handoff_reason)}`),
      conversation.ticket_ref && h("div", { class: "meta" }, `${t("ticket")}: ${conversation.ticket_ref}`),
      summaryLines(conversation),
      h("div", { class: "row" }, waited,
        h("button", { class: "primary", type: "button", onclick: () => claim(conversation.id),
          "aria-label": `${t("claim")} #${conversation.id}` }, t("claim"))));
  }

  function mineCard(conversation) {
    return h("li", { class: "card" + (conversation.id === openId ? " open" : "") },
      h("a", { href: `#/workspace/${conversation.id}`,
        "aria-current": conversation.id === openId ? "true" : null },
        `#${conversation.id} · ${named("channel", conversation.channel)}`),
      conversation.ticket_ref && h("div", { class: "meta" }, conversation.ticket_ref));
  }

  async function claim(id) {
    try {
      await post(`/conversations/${id}/claim`);
      location.hash = `#/workspace/${id}`; // re-renders with the chat open
    } catch (error) {
      toast(error.status === 409 ? `${t("claimTaken")} (${error.message})` : refusal(error));
      scheduleRefresh();
    }
  }

  async function openConversation(held) {
    if (!openId) {
      // a reload of a bare #/workspace: the conversation open last, or the first one held
      const last = Number(localStorage.getItem(LAST_OPEN));
      const again = held.find((c) => c.id === last) || held[0];
      if (again) {
        location.hash = `#/workspace/${again.id}`;
        return;
      }
      fill(chatColumn, h("p", { class: "placeholder" }, t("choose")));
      fill(panelColumn);
      return;
    }
    localStorage.setItem(LAST_OPEN, String(openId));
    const conversation = await get(`/conversations/${openId}`);
    const showPanel = () => renderPanel(panelColumn, conversation, me, chat);
    chat = await openChat(chatColumn, conversation, me, async () => {
      Object.assign(conversation, await get(`/conversations/${openId}`));
      showPanel();
      scheduleRefresh();
    });
    showPanel();
  }

  // the waiting times tick
  const ticker = setInterval(() => {
    if (!main.isConnected) return clearInterval(ticker);
    main.querySelectorAll("[data-since]").forEach((node) => {
      node.textContent = `${t("waited")} ${waitedSince(node.dataset.since)}`;
    });
  }, 1000);

  events.on((event) => {
    if (event.type === "conversation" || event.type === "reconnected") scheduleRefresh();
    if (!chat) return;
    if (event.type === "reconnected") chat.catchUp();
    else if (event.conversation_id === openId) chat.onEvent(event);
  });

  refreshLists()
    .then(openConversation)
    .catch((error) => toast(refusal(error)));
}
