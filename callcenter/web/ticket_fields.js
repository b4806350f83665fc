// The ticket's type and its custom fields (自定义字段), drawn from the type's form
// (GET /api/ticket-types). Type and fields are saved together: a new type may need
// fields its form requires, and the server checks the values against the new form.
import {el, fill, json, make, option, page, problems, say, t} from "./ticket_shared.js";

export const ZH = {
  fields: "详细信息", save_fields: "保存", unsaved: "有未保存的修改", saved_fields: "已保存。",
  yes: "是", no: "否", unset: "—", dropped: "不在此类型的表单中，保存时删除：{keys}",
  inactive: "（已停用）", required: "必填", fields_refused: "未保存：{why}",
};
export const EN = {
  fields: "Details", save_fields: "Save", unsaved: "Unsaved changes", saved_fields: "Saved.",
  yes: "Yes", no: "No", unset: "—", dropped: "Not on this type's form, removed when saved: {keys}",
  inactive: " (inactive)", required: "required", fields_refused: "Not saved: {why}",
};

let active = [];               // the active types, with their forms
const others = new Map();      // inactive types met on tickets, by name
let draft = null;              // {ticketId, type} while the agent edits, so live reloads keep it

export async function loadTypes() {
  active = await json("/api/ticket-types");
}

const known = name => active.find(x => x.name === name) || others.get(name);
const label = (type, field = null) => {
  const source = field || type;
  return (I18n.lang === "zh" ? source.label_zh : source.label_en) || source.label_en || source.key || type.name;
};

// The label of a type by name (the list and the history name types too).
export function typeLabel(name) {
  const type = known(name);
  return type ? label(type) : name;
}

// A deactivated type is not in the active list: read it by name once.
async function typeOf(name) {
  if (!known(name)) {
    const got = await json(`/api/ticket-types/${encodeURIComponent(name)}`).catch(() => null);
    others.set(name, got || {name, label_en: name, label_zh: name, active: false, form: []});
  }
  return known(name);
}

export async function renderFields(ticket) {
  if (draft && draft.ticketId !== ticket.id) draft = null;
  const current = await typeOf(ticket.type);
  if (page.ticket !== ticket) return;  // another ticket (or a newer read) is on screen now
  const chosen = draft ? known(draft.type) : current;
  const choices = active.some(x => x.name === current.name) ? active : [...active, current];
  el("type").replaceChildren(...choices.map(x =>
    option(x.name, label(x) + (x.active ? "" : t("inactive")), x.name === chosen.name)));
  if (draft) return;  // the agent is editing: a live reload does not wipe their input
  drawForm(chosen, ticket.custom_fields || {});
}

function drawForm(type, values) {
  const closed = page.ticket.status === "closed";
  const form = type.form || [];
  el("custom-fields").replaceChildren(...form.map(field => {
    const id = `cf-${field.key}`;
    const input = control(field, values[field.key]);
    Object.assign(input, {id, disabled: closed, required: Boolean(field.required)});
    input.dataset.key = field.key;
    input.dataset.kind = field.kind;
    input.oninput = input.onchange = edited;
    const name = make("label", {htmlFor: id, textContent: label(type, field)});
    if (field.required) name.append(make("abbr", {title: t("required"), textContent: " *"}));
    return make("div", {className: "field"}, name, input,
                make("span", {className: "field-error", id: `${id}-error`}));
  }));
  const keys = new Set(form.map(f => f.key));
  const dropped = Object.keys(values).filter(key => !keys.has(key));
  el("custom-dropped").textContent = dropped.length ? fill(t("dropped"), {keys: dropped.join(", ")}) : "";
  el("custom").hidden = form.length === 0 && !draft && dropped.length === 0;
  el("save-fields").disabled = closed;
  el("fields-state").textContent = draft ? t("unsaved") : "";
}

function control(field, value) {
  const has = value !== undefined && value !== null;
  if (field.kind === "boolean" || field.kind === "choice") {
    const values = field.kind === "boolean" ? [["true", t("yes")], ["false", t("no")]]
      : field.choices.map(c => [c, c]);
    const select = make("select", {}, option("", t("unset")),
      ...values.map(([v, text]) => option(v, text, has && String(value) === v)));
    return select;
  }
  const type = {number: "number", date: "date"}[field.kind] || "text";
  const input = make("input", {type, value: has ? String(value) : ""});
  if (field.kind === "number") input.step = "any";
  if (field.kind === "text") input.maxLength = 1000;
  return input;
}

function edited() {
  draft = draft || {ticketId: page.ticket.id, type: el("type").value};
  el("fields-state").textContent = t("unsaved");
}

// Another type: its form, keeping the values whose keys it shares.
function typeChosen() {
  const values = collect();
  draft = {ticketId: page.ticket.id, type: el("type").value};
  drawForm(known(draft.type), {...page.ticket.custom_fields, ...values});
  el("custom").hidden = false;
}

function collect() {
  const values = {};
  for (const input of el("custom-fields").querySelectorAll("[data-key]")) {
    const raw = input.value.trim();
    if (raw === "") continue;  // left empty: absent (the server says if it is required)
    const kind = input.dataset.kind;
    values[input.dataset.key] = kind === "number" ? Number(raw) : kind === "boolean" ? raw === "true" : raw;
  }
  return values;
}

async function save(event) {
  event.preventDefault();
  const body = {custom_fields: collect()};
  if (el("type").value !== page.ticket.type) body.type = el("type").value;
  for (const span of el("custom-fields").querySelectorAll(".field-error")) span.textContent = "";
  try {
    await api(`/api/tickets/${page.ticket.id}`, {method: "PATCH", body});
  } catch (error) {
    const general = [];
    for (const p of problems(error)) {
      const key = p.loc[1] === "custom_fields" ? p.loc[2] : null;
      const span = key ? el(`cf-${key}-error`) : null;
      if (span) span.textContent = p.msg; else general.push(p.msg);
    }
    say(fill(t("fields_refused"), {why: general.join("; ") || problems(error).map(p => p.msg).join("; ")}), true);
    return;
  }
  draft = null;
  el("fields-state").textContent = "";
  await page.reload();  // drawn again from what the server stored, then confirmed
  say(t("saved_fields"));
}

export function bindFields() {
  el("type").onchange = typeChosen;
  el("custom").onsubmit = save;
}

// The ticket changed under the agent (another ticket opened): forget the edit.
export function forgetDraft() {
  draft = null;
}
