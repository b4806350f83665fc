// What every part of the ticket page shares: the page's state, DOM helpers, API calls
// and the way refusals are told. A plain ES module (no build): tickets.js imports it
// with the other ticket_*.js parts.

export const t = key => I18n.t(key);
export const el = id => document.getElementById(id);
export const make = window.make;  // common.js's, for the modules that import it here
export const option = (value, text, selected = false) => make("option", {value, textContent: text, selected});
export const json = async (path, options) => (await api(path, options)).json();
export const fmtTime = iso => iso ? new Date(iso).toLocaleString(I18n.lang === "zh" ? "zh-CN" : "en",
  {month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"}) : "";
export const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");

// The ticket on screen, and the way to read it again after a change (set by tickets.js).
export const page = {ticket: null, groups: [], reload: async () => {}, open: async () => {}};

// A refusal's `detail` is a list of {loc, msg} (common.js passes it on as JSON): the
// agent reads the messages, not the JSON.
export function problems(error) {
  try {
    const detail = JSON.parse(error.message);
    if (Array.isArray(detail)) return detail.map(d => ({loc: d.loc || [], msg: d.msg}));
  } catch (_) { /* a plain message */ }
  return [{loc: [], msg: error.message}];
}
export const explain = error => problems(error).map(p => p.msg).join("; ");

// The detail pane's one message line: an error in red, anything else muted.
export function say(text, isError = false) {
  el("d-message").textContent = text;
  el("d-message").classList.toggle("error", isError && Boolean(text));
}

export function humanSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
