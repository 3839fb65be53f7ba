// Quality assurance of delivered tickets (S8.2). Supervisors draw a sample of closed
// tickets, score each on the checklist and follow the figures; everyone sees the
// rectifications assigned to them and closes them saying what was corrected.

import { get, post } from "./api.js";
import { fill, h, toast } from "./dom.js";
import { lang, named, refusal, t, when } from "./i18n.js";
import { localDay } from "./supervisor.js";

const KINDS = ["inquiry", "complaint", "repair", "installation", "maintenance", "replacement", "recall"];

const percent = (value) => (value === null || value === undefined ? "—" : `${Math.round(value * 100)}%`);

export function qaPage({ me, main }) {
  const lead = me.role === "supervisor" || me.role === "admin";
  const drawBox = h("section", { class: "box qa-draw" });
  const samplesBox = h("section", { class: "box qa-samples" });
  const sampleBox = h("section", { class: "box qa-sample" });
  const rectBox = h("section", { class: "box qa-rectifications" });
  const figuresBox = h("section", { class: "box qa-figures" });
  fill(main, h("div", { class: "page" }, h("h2", {}, t("qa")),
    h("div", { class: "grid" }, lead && [drawBox, samplesBox, sampleBox, figuresBox], rectBox)));
  let criteria = [];
  let staff = [];
  let openSample = null;

  const label = (code) => {
    const criterion = criteria.find((c) => c.code === code);
    return criterion ? criterion[lang()] : code;
  };
  const person = (id) => (id === me.id ? me.display_name
    : staff.find((s) => s.id === id)?.display_name || (id ? `#${id}` : t("none")));

  function drawForm() {
    const input = (id, attrs) => h("input", { id, ...attrs });
    const first = input("qa-from", { type: "date", value: localDay(-29) });
    const last = input("qa-to", { type: "date", value: localDay() });
    const kind = h("select", { id: "qa-kind" }, h("option", { value: "" }, t("allKinds")),
      KINDS.map((k) => h("option", { value: k }, named("kind", k))));
    const perKind = input("qa-per-kind", { type: "checkbox" });
    const share = input("qa-share", { type: "number", min: 1, max: 100, placeholder: "10" });
    const count = input("qa-count", { type: "number", min: 1, max: 1000 });
    const form = h("form", {}, h("h2", {}, t("drawSample")),
      h("label", { for: "qa-from" }, t("closedFrom")), first,
      h("label", { for: "qa-to" }, t("closedTo")), last,
      h("label", { for: "qa-kind" }, t("kind")), kind,
      h("label", { for: "qa-share" }, t("sharePercent")), share,
      h("label", { for: "qa-count" }, t("sampleCount")), count,
      h("label", { class: "inline" }, perKind, " ", t("perKind")),
      h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, t("draw"))));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { from: first.value, to: last.value, kinds: kind.value ? [kind.value] : [], per_kind: perKind.checked };
      if (count.value) body.count = Number(count.value);
      else if (share.value) body.share = Number(share.value) / 100;
      try {
        const sample = await post("/qa/samples", body);
        toast(`${t("drawn")}: ${sample.size} / ${sample.population}`);
        openSample = sample.id;
        await Promise.all([loadSamples(), renderSample(sample)]);
      } catch (error) {
        toast(refusal(error));
      }
    });
    fill(drawBox, form);
  }

  async function loadSamples() {
    const samples = await get("/qa/samples");
    fill(samplesBox, h("h2", {}, t("samples")), samples.length ? h("table", {},
      h("thead", {}, h("tr", {}, ["#", t("period"), t("sampled"), t("scored"), t("failed"), t("seed")].map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, samples.map((s) => h("tr", { "aria-current": s.id === openSample ? "true" : null },
        h("td", {}, h("button", { type: "button", onclick: () => showSample(s.id) }, `#${s.id}`)),
        h("td", {}, `${s.period.from} – ${s.period.to}`), h("td", {}, `${s.size} / ${s.population}`),
        h("td", {}, s.reviewed), h("td", {}, s.failed), h("td", {}, s.seed)))))
      : h("p", { class: "empty" }, t("none")));
  }

  async function showSample(id) {
    openSample = id;
    await renderSample(await get(`/qa/samples/${id}`));
    loadSamples();
  }

  function scoreForm(review) {
    const selects = criteria.map((c) => {
      const select = h("select", { id: `qa-${review.id}-${c.code}`, name: c.code },
        [2, 1, 0].map((points) => h("option", { value: points }, `${points} · ${t(`points${points}`)}`)));
      return [h("label", { for: select.id }, c[lang()]), select];
    });
    const note = h("textarea", { id: `qa-${review.id}-note`, rows: 2 });
    const form = h("form", { class: "qa-score" }, selects,
      h("label", { for: note.id }, t("findings")), note,
      h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, t("score"))));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const scores = Object.fromEntries(selects.map(([, s]) => [s.name, Number(s.value)]));
      const body = { scores };
      if (note.value.trim()) body.note = note.value.trim();
      try {
        const scored = await post(`/qa/reviews/${review.id}/score`, body);
        toast(`${scored.ticket.ref}: ${t(`qa_${scored.status}`)} ${percent(scored.score)}`);
        await Promise.all([showSample(review.sample_id), loadRectifications(), loadFigures()]);
      } catch (error) {
        toast(refusal(error));
      }
    });
    return form;
  }

  function renderSample(sample) {
    fill(sampleBox, h("h2", {}, `${t("sample")} #${sample.id}`),
      h("p", { class: "masked" }, `${sample.period.from} – ${sample.period.to} · ${t("seed")} ${sample.seed}`),
      sample.reviews.length ? sample.reviews.map((review) => h("article", { class: "card", dataset: { review: review.id } },
        h("div", { class: "row" },
          h("b", {}, review.ticket.ref),
          h("span", { class: "meta" }, `${named("kind", review.ticket.kind)} · ${t("handler")}: ${person(review.agent_id)} · ${when(review.ticket.closed_at)}`),
          h("span", { class: `badge ${review.status === "failed" ? "warn" : ""}` }, t(`qa_${review.status}`))),
        review.ticket.breached.length > 0 && h("p", { class: "meta" }, `${t("breaches")}: ${review.ticket.breached.map((target) => named("target", target)).join("、")}`),
        review.status === "pending" ? scoreForm(review)
          : h("p", { class: "meta" }, `${percent(review.score)} (≥ ${percent(review.threshold)}) · ${t("reviewer")}: ${person(review.reviewer_id)}`,
            review.note && h("span", { class: "summary" }, ` · ${review.note}`))))
        : h("p", { class: "empty" }, t("nothingToSample")));
  }

  function rectificationCard(r) {
    const note = h("textarea", { id: `qa-fix-${r.id}`, rows: 2, required: true });
    const form = h("form", {}, h("label", { for: note.id }, t("corrected")), note,
      h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, t("closeRectification"))));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        await post(`/qa/rectifications/${r.id}/done`, { note: note.value.trim() });
        toast(`${r.ticket_ref} ✓`);
        await Promise.all([loadRectifications(), lead && loadFigures()]);
      } catch (error) {
        toast(refusal(error));
      }
    });
    return h("article", { class: `card ${r.overdue ? "urgent" : ""}`, dataset: { rectification: r.id } },
      h("div", { class: "row" }, h("b", {}, r.ticket_ref),
        h("span", { class: "meta" }, `${t("assignee")}: ${person(r.assignee_id)} · ${t("due")} ${when(r.due_at)}`),
        r.overdue && h("span", { class: "badge warn" }, t("overdue"))),
      h("p", { class: "summary" }, `${t("missed")}: ${r.missed.map(label).join("、") || t("none")}`),
      r.findings && h("p", { class: "summary" }, `${t("findings")}: ${r.findings}`),
      form);
  }

  async function loadRectifications() {
    const open = await get("/qa/rectifications?open=true");
    fill(rectBox, h("h2", {}, `${lead ? t("openRectifications") : t("myRectifications")} (${open.length})`),
      open.length ? open.map(rectificationCard) : h("p", { class: "empty" }, t("none")));
  }

  async function loadFigures() {
    const report = await get(`/reports/qa?from=${localDay(-29)}&to=${localDay()}`);
    const figure = (name, value) => h("div", { class: "figure" }, h("b", {}, value), h("span", {}, name));
    fill(figuresBox, h("h2", {}, t("qaFigures")),
      h("div", { class: "figures" },
        figure(t("scored"), report.reviewed), figure(t("passRate"), percent(report.pass_rate)),
        figure(t("failed"), report.failed), figure(t("qa_pending"), report.pending),
        figure(t("openRectifications"), report.rectifications.open),
        figure(t("overdue"), report.rectifications.overdue)),
      h("h3", {}, t("byCriterion")),
      h("table", { class: "qa-criteria" },
        h("thead", {}, h("tr", {}, ["", t("points0"), t("points1"), t("meanPoints")].map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", {}, criteria.map((c) => {
          const figures = report.by_criterion[c.code];
          return h("tr", {}, h("th", { scope: "row" }, c[lang()]), h("td", {}, figures.not_met),
            h("td", {}, figures.partly_met), h("td", {}, figures.mean_points ?? "—"));
        }))),
      h("h3", {}, t("byAgent")),
      report.by_agent.length ? h("table", {},
        h("thead", {}, h("tr", {}, [t("handler"), t("scored"), t("failed"), t("passRate")].map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", {}, report.by_agent.map((a) => h("tr", {}, h("td", {}, person(a.agent_id)),
          h("td", {}, a.reviewed), h("td", {}, a.failed), h("td", {}, percent(a.pass_rate))))))
        : h("p", { class: "empty" }, t("none")));
  }

  async function start() {
    criteria = await get("/qa/criteria");
    if (lead) {
      staff = await get("/staff");
      drawForm();
      fill(sampleBox, h("h2", {}, t("sample")), h("p", { class: "empty" }, t("chooseSample")));
      await Promise.all([loadSamples(), loadFigures()]);
    }
    await loadRectifications();
  }

  start().catch((error) => toast(refusal(error)));
}
