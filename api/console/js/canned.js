// Canned replies in both languages: every agent reads them, supervisors keep them.

import { api, get, post } from "./api.js";
import { fill, h, toast } from "./dom.js";
import { refusal, t } from "./i18n.js";

export function cannedPage({ me, main }) {
  const editable = me.role === "supervisor" || me.role === "admin";
  const list = h("div", { class: "grid" });
  fill(main, h("div", { class: "page" },
    h("h2", {}, t("canned")),
    !editable && h("p", { class: "masked" }, t("onlySupervisors")),
    list));

  function editor(reply) {
    const id = reply?.id ?? "new";
    const field = (name, label, value, rows) => {
      const input = rows
        ? h("textarea", { id: `${name}-${id}`, rows, disabled: !editable })
        : h("input", { id: `${name}-${id}`, disabled: !editable });
      input.value = value || "";
      return [h("label", { for: `${name}-${id}` }, label), input];
    };
    const [titleLabel, title] = field("title", t("title_"), reply?.title);
    const [zhLabel, zh] = field("zh", t("textZh"), reply?.zh, 3);
    const [enLabel, en] = field("en", t("textEn"), reply?.en, 3);
    const form = h("form", { class: "box" }, titleLabel, title, zhLabel, zh, enLabel, en,
      editable && h("div", { class: "actions" },
        h("button", { class: "primary", type: "submit" }, reply ? t("save") : t("add")),
        reply && h("button", { class: "danger", type: "button", onclick: async () => {
          try {
            await api("DELETE", `/canned-replies/${reply.id}`);
            load();
          } catch (error) {
            toast(refusal(error));
          }
        } }, t("remove"))));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { title: title.value.trim(), zh: zh.value.trim(), en: en.value.trim() };
      try {
        if (reply) await api("PUT", `/canned-replies/${reply.id}`, body);
        else await post("/canned-replies", body);
        toast(`${body.title} ✓`);
        load();
      } catch (error) {
        toast(refusal(error));
      }
    });
    return form;
  }

  async function load() {
    const replies = await get("/canned-replies");
    fill(list, replies.map(editor), editable && editor(null));
  }

  load().catch((error) => toast(refusal(error)));
}
