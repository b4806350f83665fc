// Tab "Webhooks" (docs/automation.md, needs webhooks.admin): subscriptions, a new one's
// secret shown the one time the API answers it, each one's deliveries, and the dead
// letters with replay one / replay all.
import {confirmed, field, getJson, h, send, showError, when, words} from "./admin-ui.js";

export const TEXTS = {
  webhooks: ["Webhooks", "Webhook"],
  wh_name: ["Name", "名称"],
  url: ["URL", "URL"],
  event_types: ["Event types (prefixes, e.g. ticket. call.ended)", "事件类型（前缀，如 ticket. call.ended）"],
  secret_optional: ["Secret (empty: one is made)", "密钥（留空则自动生成）"],
  active: ["Active", "启用"],
  inactive: ["Inactive", "停用"],
  new_webhook: ["New webhook", "新建 Webhook"],
  create: ["Create", "创建"],
  secret_once: ["The secret, shown this once — copy it now:", "密钥仅显示这一次，请立即复制："],
  deliveries: ["Deliveries", "投递记录"],
  dead_letters: ["Dead letters", "死信"],
  replay: ["Replay", "重新投递"],
  replay_all: ["Replay all", "全部重新投递"],
  replayed: ["Back in the queue:", "已重新排队："],
  delete: ["Delete", "删除"],
  event: ["Event", "事件"],
  state: ["State", "状态"],
  attempts: ["Attempts", "尝试次数"],
  last: ["Last answer", "最近结果"],
  created: ["Created", "创建时间"],
  none: ["None.", "无。"],
  no_webhooks: ["Webhooks need the webhooks.admin permission (admins).", "Webhook 需要 webhooks.admin 权限（管理员）。"],
};

export async function load(root) {
  let hooks;
  try { hooks = await getJson("/api/webhooks"); }
  catch (error) {
    if (error.status === 403) { root.replaceChildren(h("p", {id: "webhooks-refused", class: "muted", i18n: "no_webhooks"})); return; }
    throw error;
  }
  const reload = () => load(root);
  const secretBox = h("div", {id: "secret", class: "secret", hidden: true});
  const detail = h("div", {id: "deliveries"});
  const table = h("table", {id: "webhooks-table"},
    h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {i18n: "wh_name"}), h("th", {i18n: "url"}),
      h("th", {i18n: "event_types"}), h("th", {i18n: "active"}), h("th"))),
    h("tbody", {}, ...hooks.map(w => h("tr", {"data-id": w.id},
      h("td", {}, String(w.id)), h("td", {}, w.name), h("td", {}, w.url), h("td", {}, w.event_types.join(" ")),
      h("td", {}, h("span", {class: w.active ? "badge on" : "badge", i18n: w.active ? "active" : "inactive"})),
      h("td", {},
        h("button", {class: "show-deliveries", i18n: "deliveries", onclick: () => showDeliveries(detail, w)}), " ",
        h("button", {class: "delete", i18n: "delete",
                     onclick: confirmed(async () => { await send(`/api/webhooks/${w.id}`, "DELETE"); await reload(); })}))))));
  const form = h("form", {class: "editor panel", id: "webhook-form"},
    h("h2", {i18n: "new_webhook"}),
    field("wh_name", h("input", {name: "name", loc: "name", required: true})),
    field("url", h("input", {name: "url", loc: "url", size: 40, placeholder: "https://"})),
    field("event_types", h("input", {name: "event_types", loc: "event_types", value: "ticket."})),
    field("secret_optional", h("input", {name: "secret", loc: "secret", autocomplete: "off"})),
    field("active", h("input", {type: "checkbox", name: "active", loc: "active", checked: true})),
    h("div", {}, h("button", {class: "primary", i18n: "create"})),
    h("p", {class: "form-message", role: "alert"}));
  form.onsubmit = async event => {
    event.preventDefault();
    const e = form.elements;
    const body = {name: e.name.value.trim(), url: e.url.value.trim(), event_types: words(e.event_types.value),
                  active: e.active.checked};
    if (e.secret.value) body.secret = e.secret.value;
    try {
      const made = await send("/api/webhooks", "POST", body);
      await reload();
      // After the reload (which rebuilt the tab): the secret is in this answer only.
      const box = root.querySelector("#secret");
      box.replaceChildren(h("span", {i18n: "secret_once"}), " ", h("code", {}, made.secret));
      box.hidden = false;
    } catch (error) { showError(form, error); }
  };
  const dead = await deadLetters(reload);
  root.replaceChildren(h("h2", {i18n: "webhooks"}), secretBox, table, form, detail, ...dead);
}

function deliveryTable(items, onReplay) {
  if (!items.length) return h("p", {class: "muted", i18n: "none"});
  return h("table", {},
    h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {i18n: "event"}), h("th", {i18n: "state"}),
      h("th", {i18n: "attempts"}), h("th", {i18n: "last"}), h("th", {i18n: "created"}), h("th"))),
    h("tbody", {}, ...items.map(d => h("tr", {"data-id": d.id},
      h("td", {}, String(d.id)), h("td", {}, d.event_type),
      h("td", {}, h("span", {class: `badge ${d.state === "dead" ? "dead" : d.state === "delivered" ? "on" : ""}`}, d.state)),
      h("td", {}, String(d.attempts)), h("td", {}, [d.last_status, d.last_error].filter(Boolean).join(" ")),
      h("td", {}, when(d.created_at)),
      h("td", {}, onReplay && d.state === "dead"
        ? h("button", {class: "replay", i18n: "replay", onclick: () => onReplay(d.id)}) : "")))));
}

async function showDeliveries(detail, hook) {
  const items = await getJson(`/api/webhooks/${hook.id}/deliveries`);
  detail.replaceChildren(h("h2", {}, `${hook.name} — `, h("span", {i18n: "deliveries"})), deliveryTable(items, null));
}

async function deadLetters(reload) {
  const items = await getJson("/api/webhooks/dead-letters");
  const status = h("span", {class: "ok", id: "replayed"});
  const replay = async path => {
    const {replayed} = await send(path, "POST");
    await reload();
    document.getElementById("replayed").textContent = `${I18n.t("replayed")} ${replayed}`;
  };
  return [h("h2", {i18n: "dead_letters"}),
          h("div", {id: "dead-letters"}, deliveryTable(items, id => replay(`/api/webhooks/dead-letters/${id}/replay`))),
          h("button", {id: "replay-all", i18n: "replay_all", disabled: !items.length,
                       onclick: () => replay("/api/webhooks/dead-letters/replay")}), " ", status];
}
