// Tab "Types and forms": ticket types, their labels, active or not, and the custom
// fields of each type's form (docs/tickets.md, "Types and forms"). Types are never
// deleted: deactivating one keeps its tickets readable.
import {field, getJson, h, select, send, showError, words} from "./admin-ui.js";

export const TEXTS = {
  types: ["Ticket types", "工单类型"],
  type_name: ["Name (a-z, 0-9, _)", "名称（a-z、0-9、_）"],
  label_en: ["Label (English)", "标签（英文）"],
  label_zh: ["Label (Chinese)", "标签（中文）"],
  active: ["Active", "启用"],
  inactive: ["Inactive", "停用"],
  activate: ["Activate", "启用"],
  deactivate: ["Deactivate", "停用"],
  edit: ["Edit", "编辑"],
  new_type: ["New type", "新建类型"],
  edit_type: ["Edit type", "编辑类型"],
  form_fields: ["Form fields", "表单字段"],
  add_field: ["Add a field", "添加字段"],
  key: ["Key", "键"],
  kind: ["Kind", "类型"],
  required: ["Required", "必填"],
  choices: ["Choices (comma separated)", "选项（逗号分隔）"],
  remove: ["Remove", "删除"],
  save: ["Save", "保存"],
  k_text: ["text", "文本"], k_number: ["number", "数字"], k_boolean: ["yes/no", "是/否"],
  k_choice: ["choice", "选项"], k_date: ["date", "日期"],
  fields_n: ["fields", "个字段"],
};
const KINDS = ["text", "number", "boolean", "choice", "date"];

export async function load(root) {
  const types = await getJson("/api/ticket-types?include_inactive=true");
  const editor = h("div", {id: "type-editor"});
  const table = h("table", {id: "types-table"},
    h("thead", {}, h("tr", {}, h("th", {i18n: "type_name"}), h("th", {i18n: "label_en"}),
      h("th", {i18n: "label_zh"}), h("th", {i18n: "form_fields"}), h("th", {i18n: "active"}), h("th"))),
    h("tbody", {}, ...types.map(t => h("tr", {"data-name": t.name},
      h("td", {}, t.name), h("td", {}, t.label_en), h("td", {}, t.label_zh),
      h("td", {}, String(t.form.length)),
      h("td", {}, h("span", {class: t.active ? "badge on" : "badge", i18n: t.active ? "active" : "inactive"})),
      h("td", {},
        h("button", {class: "edit", i18n: "edit", onclick: () => edit(editor, t, () => load(root))}), " ",
        h("button", {class: "toggle", i18n: t.active ? "deactivate" : "activate", onclick: async () => {
          await send(`/api/ticket-types/${t.name}`, "PATCH", {active: !t.active});
          await load(root);
        }}))))));
  root.replaceChildren(h("h2", {i18n: "types"}), table,
    h("button", {id: "type-new", i18n: "new_type", onclick: () => edit(editor, null, () => load(root))}), editor);
}

function edit(editor, type, reload) {
  const rows = h("div", {class: "fields"});
  const form = h("form", {class: "editor panel", id: "type-form"},
    h("h2", {i18n: type ? "edit_type" : "new_type"}),
    field("type_name", h("input", {name: "name", loc: "name", value: type?.name ?? "", disabled: !!type, required: true})),
    field("label_en", h("input", {name: "label_en", loc: "label_en", value: type?.label_en ?? ""})),
    field("label_zh", h("input", {name: "label_zh", loc: "label_zh", value: type?.label_zh ?? ""})),
    h("h3", {i18n: "form_fields"}), rows,
    h("button", {type: "button", id: "field-add", i18n: "add_field", onclick: () => addRow(rows)}),
    h("div", {}, h("button", {class: "primary", i18n: "save"})),
    h("p", {class: "form-message", role: "alert"}));
  rows.dataset.loc = "form";
  for (const f of type?.form ?? []) addRow(rows, f);
  form.onsubmit = async event => {
    event.preventDefault();
    const fields = [...rows.querySelectorAll(".row")].map(row => {
      const get = name => row.querySelector(`[name=${name}]`);
      const out = {key: get("key").value.trim(), label_en: get("f_label_en").value.trim(),
                   label_zh: get("f_label_zh").value.trim(), kind: get("kind").value,
                   required: get("required").checked};
      const choices = words(get("choices").value);
      if (choices.length || out.kind === "choice") out.choices = choices;
      return out;
    });
    const e = form.elements;
    const body = {label_en: e.label_en.value.trim(), label_zh: e.label_zh.value.trim(), form: fields};
    try {
      if (type) await send(`/api/ticket-types/${type.name}`, "PATCH", body);
      else await send("/api/ticket-types", "POST", {name: e.name.value.trim(), ...body});
      await reload();
    } catch (error) { showError(form, error); }
  };
  editor.replaceChildren(form);
}

// One form field's row; its controls' data-loc follow the row's place in the form, so
// the API's ["body", "form", 2, "key"] lands on the third row's key.
function addRow(rows, f = {}) {
  const row = h("div", {class: "row"},
    field("key", h("input", {name: "key", value: f.key ?? "", size: 14})),
    field("label_en", h("input", {name: "f_label_en", value: f.label_en ?? ""})),
    field("label_zh", h("input", {name: "f_label_zh", value: f.label_zh ?? ""})),
    field("kind", select(KINDS.map(k => [k, `k_${k}`]), f.kind ?? "text", {name: "kind"})),
    field("required", h("input", {type: "checkbox", name: "required", checked: !!f.required})),
    field("choices", h("input", {name: "choices", value: (f.choices ?? []).join(", ")})),
    h("button", {type: "button", i18n: "remove", onclick: () => { row.remove(); number(rows); }}));
  rows.append(row);
  number(rows);
}

function number(rows) {
  rows.querySelectorAll(".row").forEach((row, i) => {
    row.dataset.loc = `form.${i}`;
    for (const [name, key] of [["key", "key"], ["f_label_en", "label_en"], ["f_label_zh", "label_zh"],
                               ["kind", "kind"], ["required", "required"], ["choices", "choices"]]) {
      row.querySelector(`[name=${name}]`).dataset.loc = `form.${i}.${key}`;
    }
  });
}
