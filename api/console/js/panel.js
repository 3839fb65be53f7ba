// The customer and the ticket beside the chat: the profile (masked by role, S11.1), the
// previous contacts and tickets (S5.5), and the conversation's ticket worked through its
// workflow — transitions with notes, the resolution sent to the customer (S9.2) — or a new
// ticket opened for it.

import { get, post } from "./api.js";
import { fill, h, toast } from "./dom.js";
import { lang, named, refusal, t, when } from "./i18n.js";

const KINDS = ["inquiry", "complaint", "repair", "installation", "maintenance", "replacement", "recall"];

export async function renderPanel(container, conversation, me, chat) {
  const holding = conversation.mode === "agent" && conversation.agent_id === me.id;
  const sections = [];
  if (conversation.customer_id) sections.push(await customerSection(conversation.customer_id));
  sections.push(conversation.ticket_ref
    ? await ticketSection(conversation, me, chat, holding, () => renderPanel(container, conversation, me, chat))
    : newTicketSection(conversation, holding, async () => {
        Object.assign(conversation, await get(`/conversations/${conversation.id}`));
        renderPanel(container, conversation, me, chat);
      }));
  fill(container, sections);
}

async function customerSection(customerId) {
  const profile = await get(`/customers/${customerId}`);
  const c = profile.customer;
  const row = (label, value) => [h("dt", {}, label), h("dd", {}, value || "—")];
  return h("section", { "aria-labelledby": "profile-title" },
    h("h2", { id: "profile-title" }, t("profile")),
    h("dl", {},
      row(t("name"), c.name), row(t("phone"), c.phone), row(t("email"), c.email),
      row(t("address"), c.address), row(t("channels"), c.channels.map((x) => named("channel", x)).join(", "))),
    c.masked && h("p", { class: "masked" }, t("maskedNote")),
    h("h3", {}, t("tickets")),
    profile.tickets.length
      ? h("ul", { class: "list" }, profile.tickets.map((ticket) =>
          h("li", { class: "meta" }, `${ticket.ref} · ${named("kind", ticket.kind)} · ${named("status", ticket.status)}`)))
      : h("p", { class: "empty" }, t("none")),
    h("h3", {}, t("contacts")),
    h("p", { class: "meta" }, profile.conversations.map((x) =>
      `#${x.id} ${named("channel", x.channel)} ${when(x.created_at)}`).join(" · ") || t("none")));
}

async function ticketSection(conversation, me, chat, holding, rerender) {
  const ticket = await get(`/tickets/${conversation.ticket_ref}`);
  const note = h("textarea", { id: "ticket-note", rows: 2 });
  const resolution = h("textarea", { id: "ticket-resolution", rows: 3 });
  const appointment = h("input", { id: "ticket-appointment", type: "datetime-local" });
  const allowed = ticket.allowed_actions;

  async function act(action) {
    const body = { action };
    if (note.value.trim()) body.note = note.value.trim();
    if (action === "resolve") body.resolution = resolution.value.trim();
    if (action === "schedule" && appointment.value) body.appointment_at = new Date(appointment.value).toISOString();
    try {
      await post(`/tickets/${ticket.ref}/transitions`, body);
      if (action === "resolve" && holding && chat) await chat.send(body.resolution); // to the customer
      toast(`${ticket.ref}: ${named("action", action)} ✓`);
      rerender();
    } catch (error) {
      const allowedNow = error.body?.allowed;
      const options = allowedNow?.map((a) => named("action", a)).join(", ");
      toast(options ? `${refusal(error)} (${options})` : refusal(error));
    }
  }

  async function assignToMe() {
    try {
      await post(`/tickets/${ticket.ref}/assign`, { staff_id: me.id });
      rerender();
    } catch (error) {
      toast(refusal(error));
    }
  }

  return h("section", { "aria-labelledby": "ticket-title" },
    h("h2", { id: "ticket-title" }, `${t("ticket")} ${ticket.ref}`),
    h("dl", {},
      h("dt", {}, t("kind")), h("dd", {}, named("kind", ticket.kind)),
      h("dt", {}, t("status")), h("dd", { id: "ticket-status" }, named("status", ticket.status)),
      h("dt", {}, t("priority")), h("dd", {}, `P${ticket.priority}${ticket.safety ? " ⚠" : ""}`),
      h("dt", {}, t("resolveBy")), h("dd", {}, when(ticket.resolve_due_at)),
      h("dt", {}, t("nextStep")), h("dd", {}, ticket.next_step[lang()]),
      h("dt", {}, t("description")), h("dd", {}, ticket.description)),
    ticket.assignee_id !== me.id && h("button", { type: "button", onclick: assignToMe }, t("assignMe")),
    h("label", { for: "ticket-note" }, t("note")), note,
    allowed.includes("resolve") && [h("label", { for: "ticket-resolution" }, t("resolution")), resolution],
    allowed.includes("schedule") && [h("label", { for: "ticket-appointment" }, "⏰"), appointment],
    h("div", { class: "actions" }, allowed.map((action) =>
      h("button", { type: "button", class: action === "resolve" ? "primary" : "", dataset: { action },
        onclick: () => act(action) }, named("action", action)))));
}

function newTicketSection(conversation, holding, onCreated) {
  const kind = h("select", { id: "new-kind" }, KINDS.map((k) => h("option", { value: k }, named("kind", k))));
  const description = h("textarea", { id: "new-description", rows: 3 });
  if (conversation.summary?.last_message) description.value = conversation.summary.last_message;
  const form = h("form", {},
    h("p", { class: "empty" }, t("noTicket")),
    h("label", { for: "new-kind" }, t("kind")), kind,
    h("label", { for: "new-description" }, t("description")), description,
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit", disabled: !holding }, t("createTicket"))));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await post("/tickets", { kind: kind.value, description: description.value.trim(), conversation_id: conversation.id });
      await onCreated();
    } catch (error) {
      toast(refusal(error));
    }
  });
  return h("section", { "aria-labelledby": "new-ticket-title" }, h("h2", { id: "new-ticket-title" }, t("createTicket")), form);
}
