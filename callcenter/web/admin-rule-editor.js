// The structured editor of a trigger's or automation's conditions and actions: one row
// per condition (field, operator, value) and per action (its type's own controls), in
// the shapes of docs/automation.md. Every control carries the data-loc of its place in
// the body, so the API's 422 (["body", "actions", 0, "email", "subject"]) shows at it.
import {h, select, words} from "./admin-ui.js";

export const TEXTS = {
  all_of: ["All of these", "满足以下全部"],
  any_of: ["Any of these", "满足以下任一"],
  add_condition: ["Add a condition", "添加条件"],
  add_action: ["Add an action", "添加动作"],
  since: ["Since", "持续时间"],
  hours: ["hours", "小时"],
  c_key: ["custom field key", "自定义字段键"],
  tags: ["tags", "标签"],
  to: ["to", "收件人"],
  address: ["address", "地址"],
  subject_ph: ["subject, e.g. #{id} waits for you", "主题，如 #{id} 等待您的回复"],
  body_ph: ["text; {id} {subject} {status} … are replaced", "正文；{id} {subject} {status} 等会被替换"],
  unassigned: ["(unassigned)", "（未分配）"],
  remove: ["Remove", "删除"],
  a_set: ["set a field", "设置字段"], a_add_tags: ["add tags", "添加标签"],
  a_remove_tags: ["remove tags", "移除标签"], a_assign_by_rule: ["assign by the group's rule", "按工单组规则分配"],
  a_email: ["send an email", "发送邮件"], a_webhook: ["call a webhook", "调用 Webhook"],
};

const STATUSES = ["new", "open", "pending", "on_hold", "solved", "closed"];
const CHOICES = {
  event: ["created", "updated", "commented"], status: STATUSES,
  priority: ["low", "normal", "high", "urgent"], type: ["consultation", "complaint", "fault", "other"],
  source: ["api", "call", "email", "chat"],
};
const OPS = {
  event: ["is", "is_not"], status: ["is", "is_not", "changed", "changed_to"],
  priority: ["is", "is_not", "changed", "changed_to"], type: ["is", "is_not", "changed", "changed_to"],
  group_id: ["is", "is_not", "changed", "changed_to"], assignee_id: ["is", "is_not", "changed", "changed_to"],
  tags: ["contains", "is_not", "changed"], source: ["is", "is_not"], subject: ["contains"],
  custom_field: ["is", "is_not", "changed"],
};
const SINCE = ["status", "priority", "type", "group_id", "assignee_id", "created", "updated"];
const SET_FIELDS = ["status", "priority", "type", "group_id", "assignee_id"];
const ACTIONS = ["set", "add_tags", "remove_tags", "assign_by_rule", "email", "webhook"];

const plain = values => values.map(v => [v, null, v]);

// A value control for `field`: a list where the field has one, else a text or number.
function valueControl(field, value, loc, ctx) {
  if (CHOICES[field]) return select(plain(CHOICES[field]), value ?? CHOICES[field][0], {name: "value", loc});
  if (field === "group_id") return select(ctx.groups.map(g => [String(g.id), null, g.name]), String(value ?? ctx.groups[0]?.id ?? ""), {name: "value", loc});
  if (field === "assignee_id") return h("input", {name: "value", loc, type: "number", min: 1, value: value ?? "", placeholder: I18n.t("unassigned")});
  return h("input", {name: "value", loc, value: value ?? ""});
}

function typed(field, text) {
  if (field === "group_id") return text === "" ? null : Number(text);
  if (field === "assignee_id") return text === "" ? null : Number(text);
  if (field === "custom_field") {
    if (text === "true" || text === "false") return text === "true";
    if (text.trim() !== "" && !Number.isNaN(Number(text))) return Number(text);
  }
  return text;
}

// A list of rows that renumbers its rows' data-loc when one is added or removed.
function rowList(loc, make, items, addKey) {
  const rows = [];
  const box = h("div", {class: "rule-list", loc});
  const list = h("div");
  const renumber = () => rows.forEach((row, i) => row.place(`${loc}.${i}`));
  const add = item => {
    const row = make(item);
    row.el.append(" ", h("button", {type: "button", class: "remove", i18n: "remove", onclick: () => {
      rows.splice(rows.indexOf(row), 1); row.el.remove(); renumber();
    }}));
    rows.push(row); list.append(row.el); renumber();
  };
  items.forEach(add);
  box.append(list, h("button", {type: "button", class: `add ${addKey}`, i18n: addKey, onclick: () => add({})}));
  return {el: box, value: () => rows.map(r => r.value())};
}

function conditionRow(cond, automation, ctx) {
  const fields = Object.keys(OPS).filter(f => !(automation && f === "event"));
  const el = h("div", {class: "row condition"});
  let place = "";
  let parts = {};
  const build = (field, op, value, key) => {
    const ops = OPS[field].filter(o => !(automation && o.startsWith("changed")));
    parts = {
      field: select(plain(fields), field, {name: "field"}),
      op: select(plain(ops), ops.includes(op) ? op : ops[0], {name: "op"}),
      key: h("input", {name: "key", size: 12, value: key ?? "", placeholder: I18n.t("c_key"), hidden: field !== "custom_field"}),
      value: valueControl(field, value, "", ctx),
    };
    parts.value.hidden = parts.op.value === "changed";
    parts.field.onchange = () => build(parts.field.value, parts.op.value, undefined, parts.key.value);
    parts.op.onchange = () => { parts.value.hidden = parts.op.value === "changed"; };
    el.replaceChildren(parts.field, " ", parts.op, " ", parts.key, " ", parts.value, ...[...el.querySelectorAll("button.remove")]);
    setPlace(place);
  };
  const setPlace = loc => {
    place = loc;
    el.dataset.loc = loc;
    for (const [name, control] of Object.entries(parts)) control.dataset.loc = `${loc}.${name}`;
  };
  build(cond.field ?? (automation ? "status" : "event"), cond.op, cond.value, cond.key);
  return {
    el, place: setPlace,
    value: () => {
      const out = {field: parts.field.value, op: parts.op.value};
      if (out.field === "custom_field") out.key = parts.key.value.trim();
      if (out.op !== "changed") out.value = typed(out.field, parts.value.value);
      return out;
    },
  };
}

function actionRow(action, ctx) {
  const el = h("div", {class: "row action"});
  const typeSelect = select(ACTIONS.map(a => [a, `a_${a}`]), action.type ?? "set", {name: "type"});
  const body = h("span", {class: "action-body"});
  let place = "";
  let controls = {};
  let read = () => ({});
  const build = (type, a) => {
    if (type === "set") {
      const field = select(plain(SET_FIELDS), a.field ?? "status", {name: "field"});
      controls = {field, value: valueControl(field.value, a.value, "", ctx)};
      field.onchange = () => build("set", {field: field.value});
      read = () => ({field: controls.field.value, value: typed(controls.field.value, controls.value.value)});
    } else if (type === "add_tags" || type === "remove_tags") {
      controls = {tags: h("input", {name: "tags", value: (a.tags ?? []).join(", "), placeholder: I18n.t("tags")})};
      read = () => ({tags: words(controls.tags.value)});
    } else if (type === "email") {
      const to = select(plain(["requester", "assignee", "group", "address"]), a.to ?? "requester", {name: "to"});
      controls = {
        to, address: h("input", {name: "address", value: a.address ?? "", placeholder: I18n.t("address"), hidden: to.value !== "address"}),
        subject: h("input", {name: "subject", size: 30, value: a.subject ?? "", placeholder: I18n.t("subject_ph")}),
        body: h("textarea", {name: "body", rows: 2, value: a.body ?? "", placeholder: I18n.t("body_ph")}),
      };
      to.onchange = () => { controls.address.hidden = to.value !== "address"; };
      read = () => {
        const out = {to: controls.to.value, subject: controls.subject.value, body: controls.body.value};
        if (out.to === "address") out.address = controls.address.value.trim();
        return out;
      };
    } else if (type === "webhook") {
      controls = {webhook_id: ctx.webhooks
        ? select(ctx.webhooks.map(w => [String(w.id), null, w.name]), String(a.webhook_id ?? ""), {name: "webhook_id"})
        : h("input", {name: "webhook_id", type: "number", min: 1, value: a.webhook_id ?? ""})};
      read = () => ({webhook_id: Number(controls.webhook_id.value)});
    } else {
      controls = {};
      read = () => ({});
    }
    body.replaceChildren(...Object.values(controls).flatMap(c => [c, " "]));
    setPlace(place);
  };
  const setPlace = loc => {
    place = loc;
    el.dataset.loc = loc;
    typeSelect.dataset.loc = `${loc}.type`;
    body.dataset.loc = `${loc}.${typeSelect.value}`;
    for (const [name, control] of Object.entries(controls)) control.dataset.loc = `${loc}.${typeSelect.value}.${name}`;
  };
  typeSelect.onchange = () => build(typeSelect.value, {});
  el.append(typeSelect, " ", body);
  build(typeSelect.value, action);
  return {el, place: setPlace, value: () => ({type: typeSelect.value, ...read()})};
}

// {el, value()} for a rule's conditions; `automation` adds `since` and leaves out
// what a tick cannot see (event, changed, changed_to).
export function conditionsEditor(conditions, automation, ctx) {
  const all = rowList("conditions.all", c => conditionRow(c, automation, ctx), conditions?.all ?? [], "add_condition");
  const any = rowList("conditions.any", c => conditionRow(c, automation, ctx), conditions?.any ?? [], "add_condition");
  const el = h("div", {class: "conditions", loc: "conditions"});
  let since = null;
  if (automation) {
    since = sinceRow(conditions?.since ?? {field: "status", value: "pending", hours: 48}, ctx);
    el.append(h("div", {}, h("strong", {i18n: "since"})), since.el);
  }
  el.append(h("div", {}, h("strong", {i18n: "all_of"})), all.el, h("div", {}, h("strong", {i18n: "any_of"})), any.el);
  return {el, value: () => ({...(since ? {since: since.value()} : {}), all: all.value(), any: any.value()})};
}

function sinceRow(since, ctx) {
  const el = h("div", {class: "row since", loc: "conditions.since"});
  let parts = {};
  const build = (field, value, hours) => {
    parts = {
      field: select(plain(SINCE), field, {name: "since_field", loc: "conditions.since.field"}),
      value: valueControl(field, value, "conditions.since.value", ctx),
      hours: h("input", {name: "hours", type: "number", min: 0, step: "any", size: 6, value: hours ?? "", loc: "conditions.since.hours"}),
    };
    parts.value.hidden = field === "created" || field === "updated";
    parts.field.onchange = () => build(parts.field.value, undefined, parts.hours.value);
    el.replaceChildren(parts.field, " ", parts.value, " ", parts.hours, " ", h("span", {i18n: "hours"}));
  };
  build(since.field, since.value, since.hours);
  return {
    el,
    value: () => {
      const out = {field: parts.field.value, hours: Number(parts.hours.value)};
      if (!parts.value.hidden && parts.value.value !== "") out.value = typed(out.field, parts.value.value);
      return out;
    },
  };
}

export function actionsEditor(actions, ctx) {
  const list = rowList("actions", a => actionRow(a, ctx), actions ?? [{type: "set", field: "priority", value: "high"}], "add_action");
  return list;
}
