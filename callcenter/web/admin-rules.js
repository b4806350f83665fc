// Tab "Triggers and automations" (docs/automation.md): both lists in the order they
// run, moved up or down, switched on or off, and edited: name, position and active,
// and conditions and actions row by row (admin-rule-editor.js), the API's field errors
// shown at the control they name.
import {TEXTS as EDITOR_TEXTS, actionsEditor, conditionsEditor} from "./admin-rule-editor.js";
import {confirmed, field, getJson, h, send, showError} from "./admin-ui.js";

export const TEXTS = {
  ...EDITOR_TEXTS,
  triggers: ["Triggers (run on ticket events)", "触发器（工单事件发生时执行）"],
  automations: ["Automations (run on time)", "自动化（按时间执行）"],
  rule_name: ["Name", "名称"],
  position: ["Position", "顺序"],
  active: ["Active", "启用"],
  inactive: ["Inactive", "停用"],
  conditions: ["Conditions", "条件"],
  actions: ["Actions", "动作"],
  new_trigger: ["New trigger", "新建触发器"],
  new_automation: ["New automation", "新建自动化"],
  edit: ["Edit", "编辑"],
  delete: ["Delete", "删除"],
  up: ["Up", "上移"],
  down: ["Down", "下移"],
  activate: ["Activate", "启用"],
  deactivate: ["Deactivate", "停用"],
  save: ["Save", "保存"],
  edit_rule: ["Edit rule", "编辑规则"],
};
const KINDS = {
  trigger: {path: "/api/ticket-triggers", title: "triggers", create: "new_trigger",
            conditions: {all: [{field: "event", op: "is", value: "created"}], any: []},
            actions: [{type: "set", field: "priority", value: "high"}]},
  automation: {path: "/api/ticket-automations", title: "automations", create: "new_automation",
               conditions: {since: {field: "status", value: "pending", hours: 48}, all: [], any: []},
               actions: [{type: "set", field: "status", value: "closed"}]},
};

export async function load(root) {
  const editor = h("div", {id: "rule-editor"});
  const sections = await Promise.all(Object.entries(KINDS).map(([kind, spec]) => section(kind, spec, editor, () => load(root))));
  root.replaceChildren(...sections.flat(), editor);
}

async function section(kind, spec, editor, reload) {
  const rules = await getJson(spec.path);
  const save = (rule, change) => send(`${spec.path}/${rule.id}`, "PUT", bodyOf({...rule, ...change}));
  // Moving swaps the two rules' places; equal positions are spread out first so the
  // order shown (position, then id) is the order kept.
  const move = (i, j) => async () => {
    const order = rules.map((r, n) => ({rule: r, position: n * 10}));
    [order[i].position, order[j].position] = [order[j].position, order[i].position];
    for (const {rule, position} of order) if (rule.position !== position) await save(rule, {position});
    await reload();
  };
  const table = h("table", {id: `${kind}s-table`},
    h("thead", {}, h("tr", {}, h("th", {i18n: "position"}), h("th", {i18n: "rule_name"}), h("th", {i18n: "active"}), h("th"))),
    h("tbody", {}, ...rules.map((r, i) => h("tr", {"data-id": r.id},
      h("td", {}, String(r.position)), h("td", {}, r.name),
      h("td", {}, h("span", {class: r.active ? "badge on" : "badge", i18n: r.active ? "active" : "inactive"})),
      h("td", {},
        h("button", {class: "up", i18n: "up", disabled: i === 0, onclick: move(i, i - 1)}), " ",
        h("button", {class: "down", i18n: "down", disabled: i === rules.length - 1, onclick: move(i, i + 1)}), " ",
        h("button", {class: "toggle", i18n: r.active ? "deactivate" : "activate",
                     onclick: async () => { await save(r, {active: !r.active}); await reload(); }}), " ",
        h("button", {class: "edit", i18n: "edit", onclick: () => edit(editor, kind, spec, r, reload)}), " ",
        h("button", {class: "delete", i18n: "delete",
                     onclick: confirmed(async () => { await send(`${spec.path}/${r.id}`, "DELETE"); await reload(); })}))))));
  return [h("h2", {i18n: spec.title}), table,
          h("button", {id: `${kind}-new`, i18n: spec.create, onclick: () => edit(editor, kind, spec, null, reload)})];
}

function bodyOf(rule) {
  return {name: rule.name, position: rule.position, active: rule.active,
          conditions: rule.conditions, actions: rule.actions};
}

async function edit(editor, kind, spec, rule, reload) {
  const [groups, webhooks] = await Promise.all([
    getJson("/api/ticket-groups"), getJson("/api/webhooks").catch(() => null),  // webhooks.admin only
  ]);
  const ctx = {groups, webhooks};
  const conditions = conditionsEditor(rule?.conditions ?? spec.conditions, kind === "automation", ctx);
  const actions = actionsEditor(rule?.actions ?? spec.actions, ctx);
  const form = h("form", {class: "editor panel", id: `${kind}-form`},
    h("h2", {i18n: rule ? "edit_rule" : spec.create}),
    field("rule_name", h("input", {name: "name", loc: "name", value: rule?.name ?? "", required: true})),
    field("position", h("input", {type: "number", name: "position", loc: "position", min: 0, value: rule?.position ?? 0})),
    field("active", h("input", {type: "checkbox", name: "active", loc: "active", checked: rule?.active ?? true})),
    h("h3", {i18n: "conditions"}), conditions.el,
    h("h3", {i18n: "actions"}), actions.el,
    h("div", {}, h("button", {class: "primary save", i18n: "save"})),
    h("p", {class: "form-message", role: "alert"}));
  form.onsubmit = async event => {
    event.preventDefault();
    const e = form.elements;
    const body = {name: e.name.value.trim(), position: Number(e.position.value || 0), active: e.active.checked,
                  conditions: conditions.value(), actions: actions.value()};
    try {
      if (rule) await send(`${spec.path}/${rule.id}`, "PUT", body);
      else await send(spec.path, "POST", body);
      await reload();
    } catch (error) { showError(form, error); }
  };
  editor.replaceChildren(form);
}
