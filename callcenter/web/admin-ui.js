// Small DOM helpers the ticket settings tabs share: elements with translated text, the
// API's answers as JSON, and the API's 422 shown at the field it names.
// The globals I18n and api come from common.js (a classic script loaded first).

// Build an element: h("button", {class: "primary", i18n: "save"}, child, ...).
// `i18n` sets a translated text that follows the language switch.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "i18n") { el.dataset.i18n = value; el.textContent = I18n.t(value); }
    else if (name === "loc") el.dataset.loc = value;
    else if (name.startsWith("on")) el[name] = reported(value);
    else if (name === "value" || name === "checked" || name === "disabled") el[name] = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  el.append(...children.filter(c => c !== undefined && c !== null));
  return el;
}

export const TEXTS = {
  sure: ["Delete it? This cannot be undone.", "确定删除？此操作无法撤销。"],
};

// A handler whose failure (a 409 for a calendar in use, a lost session) is said on the
// page's message line instead of vanishing as an unhandled rejection.
function reported(handler) {
  return (...args) => {
    const done = handler(...args);
    if (done && typeof done.catch === "function") {
      done.catch(error => {
        document.getElementById("message").textContent = `${error.status ?? ""} ${error.message}`.trim();
      });
    }
    return done;
  };
}

// `handler` only once the person confirms (deleting).
export function confirmed(handler) {
  return (...args) => (confirm(I18n.t("sure")) ? handler(...args) : undefined);
}

// A labelled input: the label's text translated, the control carrying its body field.
export function field(i18n, control) {
  const label = h("label", control.type === "checkbox" ? {class: "check"} : {});
  label.append(h("span", {i18n}), control);
  return label;
}

// A checkbox labelled with text that is data, not translated (a person's, a type's name).
export function checkbox(text, attrs) {
  return h("label", {class: "check"}, h("span", {}, text), h("input", {type: "checkbox", ...attrs}));
}

export function select(options, value, attrs = {}) {
  const el = h("select", attrs);
  for (const [v, key, text] of options) {
    el.append(h("option", key ? {value: v, i18n: key} : {value: v}, key ? undefined : (text ?? v)));
  }
  el.value = value ?? "";
  return el;
}

export async function getJson(path) {
  return (await api(path)).json();
}

export async function send(path, method, body) {
  const r = await api(path, {method, body});
  return r.status === 204 ? null : r.json();
}

// Forget the errors shown in `form` from its last save.
export function clearErrors(form) {
  form.querySelectorAll(".error").forEach(e => e.remove());
  form.querySelectorAll(".invalid").forEach(e => e.classList.remove("invalid"));
  const message = form.querySelector(".form-message");
  if (message) message.textContent = "";
}

// Show a refused save inside `form`: each 422 item next to the control whose data-loc
// is the longest prefix of its loc (["body", "form", 0, "key"] finds data-loc
// "form.0.key", else "form.0", else "form"); anything else in the form's message line.
export function showError(form, error) {
  clearErrors(form);
  const message = form.querySelector(".form-message");
  let detail = null;
  if (error instanceof ApiError && error.status === 422) {
    try { detail = JSON.parse(error.message); } catch (_) { detail = null; }
  }
  if (!Array.isArray(detail)) {
    if (message) message.textContent = `${error.status ?? ""} ${error.message}`.trim();
    return;
  }
  for (const item of detail) {
    const loc = (item.loc || []).slice(item.loc?.[0] === "body" ? 1 : 0).map(String);
    let target = null;
    for (let n = loc.length; n > 0 && !target; n--) {
      target = form.querySelector(`[data-loc="${CSS.escape(loc.slice(0, n).join("."))}"]`);
    }
    const text = item.msg.replace(/^Value error, /, "");
    if (!target) {
      if (message) message.textContent += `${loc.join(".")}: ${text} `;
      continue;
    }
    target.classList.add("invalid");
    const note = h("small", {class: "error", role: "alert"}, text);
    note.dataset.for = target.dataset.loc;
    target.after(note);
  }
}

// Comma or whitespace separated words; empty entries dropped.
export function words(text) {
  return text.split(/[\s,，]+/).map(w => w.trim()).filter(Boolean);
}

// "key: value" lines to an object and back (skills, special days).
export function parseLines(text) {
  const out = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf(":");
    if (at < 0) { if (line.trim()) out[line.trim()] = ""; continue; }
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

export function linesOf(object) {
  return Object.entries(object || {}).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`).join("\n");
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString(I18n.lang === "zh" ? "zh-CN" : "en") : "";
}
