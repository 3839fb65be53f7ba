// The supervisor's view (supervisors and admins; the API refuses the others anyway): all
// live conversations and agents, SLA breaches and tickets about to breach, reassigning a
// conversation, and the day's figures with charts (S4.4, S5.2, S9.1).

import { get, post } from "./api.js";
import { fill, h, toast } from "./dom.js";
import { named, refusal, t, waitedSince, when } from "./i18n.js";

const OPEN = ["received", "acknowledged", "investigating", "scheduled", "in_progress"];
const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  children.forEach((child) => node.append(child instanceof Node ? child : document.createTextNode(String(child))));
  return node;
}

/** A bar chart of [label, value] pairs, with the values as text for screen readers. */
export function barChart(title, pairs) {
  const width = 360, height = 170, bottom = 24, top = 16;
  const max = Math.max(1, ...pairs.map(([, v]) => v));
  const step = width / Math.max(1, pairs.length);
  const bars = pairs.map(([label, value], i) => {
    const barHeight = ((height - bottom - top) * value) / max;
    const x = i * step + step * 0.2;
    const y = height - bottom - barHeight;
    return svg("g", {},
      svg("rect", { x, y, width: step * 0.6, height: Math.max(barHeight, 0.5), rx: 3 }),
      svg("text", { x: x + step * 0.3, y: y - 4, "text-anchor": "middle" }, value),
      svg("text", { x: x + step * 0.3, y: height - 8, "text-anchor": "middle" }, label));
  });
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `${title}: ${pairs.map(([l, v]) => `${l} ${v}`).join(", ")}` }, ...bars);
  return h("figure", {}, h("figcaption", {}, h("h3", {}, title)), chart);
}

export function localDay(offset = 0) {
  const day = new Date(Date.now() + offset * 86400000);
  return `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, "0")}-${String(day.getDate()).padStart(2, "0")}`;
}

export function supervisorPage({ main, events }) {
  const live = h("div", { class: "box" });
  const agents = h("div", { class: "box" });
  const breaches = h("div", { class: "box" });
  const soon = h("div", { class: "box" });
  const figures = h("div", { class: "box" });
  fill(main, h("div", { class: "page" }, h("div", { class: "grid" }, live, agents, figures, breaches, soon)));
  let staff = [];

  async function refresh() {
    const status = OPEN.map((s) => `status=${s}`).join("&");
    const dueBefore = new Date(Date.now() + 4 * 3600000).toISOString();
    const [all, waiting, breached, dueSoon] = await Promise.all([
      get("/staff?active=true"),
      get("/conversations?mode=waiting"),
      get(`/tickets?breached=true&${status}`),
      get(`/tickets?breached=false&${status}&resolve_due_before=${encodeURIComponent(dueBefore)}`),
    ]);
    staff = all;
    const held = await get("/conversations?mode=agent");
    renderLive([...waiting, ...held]);
    renderAgents();
    renderTickets(breaches, t("breaches"), breached.items);
    renderTickets(soon, t("aboutToBreach"), dueSoon.items);
  }

  function agentName(id) {
    return staff.find((s) => s.id === id)?.display_name || (id ? `#${id}` : "—");
  }

  function renderLive(conversations) {
    const rows = conversations.map((c) => {
      const choice = h("select", { "aria-label": `${t("reassign")} #${c.id}` },
        h("option", { value: "" }, t("reassign")),
        staff.filter((s) => s.id !== c.agent_id).map((s) => h("option", { value: s.id }, s.display_name)));
      choice.addEventListener("change", async () => {
        if (!choice.value) return;
        try {
          await post(`/conversations/${c.id}/reassign`, { staff_id: Number(choice.value) });
          refresh();
        } catch (error) {
          toast(refusal(error));
          choice.value = "";
        }
      });
      return h("tr", {},
        h("td", {}, `#${c.id}`), h("td", {}, named("channel", c.channel)),
        h("td", {}, named("mode", c.mode), c.urgent ? " ⚠" : ""),
        h("td", {}, agentName(c.agent_id)),
        h("td", {}, c.waiting_since ? waitedSince(c.waiting_since) : "—"),
        h("td", {}, named("reason", c.handoff_reason)), h("td", {}, choice));
    });
    fill(live, h("h2", {}, t("liveConversations")),
      rows.length ? h("table", {},
        h("thead", {}, h("tr", {}, ["#", t("channels"), t("mode"), t("agent"), t("waited"), t("reason"), ""].map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", {}, rows)) : h("p", { class: "empty" }, t("none")));
  }

  function renderAgents() {
    fill(agents, h("h2", {}, t("agents")), h("table", {},
      h("thead", {}, h("tr", {}, [t("name"), t("role"), t("team"), t("available")].map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, staff.map((s) => h("tr", {},
        h("td", {}, s.display_name), h("td", {}, named("role", s.role)), h("td", {}, s.team || "—"),
        h("td", {}, s.available ? t("yes") : t("no")))))));
  }

  function renderTickets(box, title, items) {
    fill(box, h("h2", {}, `${title} (${items.length})`),
      items.length ? h("table", {}, h("tbody", {}, items.map((ticket) => h("tr", {},
        h("td", {}, ticket.ref), h("td", {}, named("kind", ticket.kind)), h("td", {}, named("status", ticket.status)),
        h("td", {}, `P${ticket.priority}`), h("td", {}, when(ticket.resolve_due_at)))))) : h("p", { class: "empty" }, t("none")));
  }

  async function renderFigures() {
    const [today, week] = await Promise.all([
      get(`/reports/complaints?from=${localDay()}&to=${localDay()}`),
      get(`/reports/complaints?from=${localDay(-6)}&to=${localDay()}`),
    ]);
    const figure = (label, value) => h("div", { class: "figure" }, h("b", {}, value ?? "—"), h("span", {}, label));
    const mean = today.handoffs.mean_wait_minutes;
    const csat = today.csat.mean;
    fill(figures, h("h2", {}, t("today")),
      h("div", { class: "figures" },
        figure(t("created"), today.volume.total),
        figure(t("handedOff"), today.handoffs.handed_off),
        figure(t("meanWait"), mean === null ? "—" : mean.toFixed(1)),
        figure(t("resolved"), today.effect.resolved),
        figure(t("csat"), csat === null ? "—" : csat.toFixed(2)),
        figure(t("ratings"), today.csat.count)),
      barChart(t("volume7"), week.volume.by_day.map((d) => [d.day.slice(5), d.count])),
      barChart(t("csatChart"), ["1", "2", "3", "4", "5"].map((r) => [r, week.csat.distribution[r] || 0])),
      barChart(t("handoffChart"), [[t("claimed"), today.handoffs.claimed], [t("abandoned"), today.handoffs.abandoned]]));
  }

  events.on((event) => {
    if (event.type === "conversation" || event.type === "reconnected") refresh().catch(() => {});
  });
  refresh().catch((error) => toast(refusal(error)));
  renderFigures().catch((error) => toast(refusal(error)));
}
