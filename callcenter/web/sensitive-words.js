// Sensitive words (敏感词): admins keep the per-language lists (add, import, try a text,
// change, delete); supervisors read the alerts, all or one call's (#call=<id>).
// docs/sensitive-words.md.
"use strict";

I18n.init({
  title: "敏感词管理", refused: "此页面需要 sensitive_words.admin 权限（词库）或 monitor.listen 权限（告警）。",
  tab_lists: "词库", tab_alerts: "告警", add_title: "添加词语", phrase: "词语", language: "语言",
  severity: "级别", lang_zh: "中文", lang_en: "英文", warn: "警告", critical: "严重", add: "添加",
  import_title: "批量导入（每行一个词语）", import_placeholder: "每行一个词语；以 # 开头的行会被跳过",
  import: "导入", try_title: "试一试", try_placeholder: "输入一句客户可能说的话", try: "检测",
  lists_title: "词库列表", show: "显示", all: "全部语言", active: "启用",
  alerts_of_call: "通话告警：", all_alerts: "全部告警",
}, {
  delete: "Delete", sure: "Delete this phrase?", nothing: "Nothing found",
  imported: "{created} added, {skipped} already listed", found: "Found:",
});
const ZH_MORE = {delete: "删除", sure: "确定删除这个词语？", nothing: "未发现敏感词",
                 imported: "新增 {created} 个，已存在 {skipped} 个", found: "发现："};
const t = key => (I18n.lang === "zh" && ZH_MORE[key]) || I18n.t(key);
const el = id => document.getElementById(id);

// A 422 shown at the field it names (the API answers [{loc: ["body", field], msg}]).
function showError(form, error) {
  form.querySelectorAll(".invalid").forEach(node => node.classList.remove("invalid"));
  const line = form.querySelector(".error");
  if (!error) { if (line) line.textContent = ""; return; }
  let detail = null;
  try { detail = JSON.parse(error.message); } catch (_) { /* a plain message */ }
  const first = Array.isArray(detail) ? detail[0] : null;
  const name = first && first.loc ? first.loc[first.loc.length - 1] : null;
  const input = name && form.elements[name];
  if (input) input.classList.add("invalid");
  if (line) line.textContent = first ? first.msg : error.message;
}

const formBody = form => Object.fromEntries(new FormData(form));

async function loadWords() {
  const language = el("filter").value;
  const words = await (await api(`/api/sensitive-words${language ? `?language=${language}` : ""}`)).json();
  el("words").tBodies[0].replaceChildren(...words.map(word => {
    const tr = make("tr");
    tr.dataset.id = word.id;
    const severity = make("select", {name: "severity"},
      make("option", {value: "warn", textContent: I18n.t("warn")}),
      make("option", {value: "critical", textContent: I18n.t("critical")}));
    severity.value = word.severity;
    severity.onchange = () => change(word.id, {severity: severity.value});
    const active = make("input", {type: "checkbox", name: "active", checked: word.active});
    active.onchange = () => change(word.id, {active: active.checked});
    const remove = make("button", {className: "delete", textContent: t("delete")});
    remove.onclick = async () => {
      if (!confirm(t("sure"))) return;
      await api(`/api/sensitive-words/${word.id}`, {method: "DELETE"});
      loadWords();
    };
    tr.append(make("td", {className: "phrase", textContent: word.phrase}),
              make("td", {textContent: I18n.t(`lang_${word.language}`)}),
              make("td", {}, severity), make("td", {}, active), make("td", {}, remove));
    return tr;
  }));
}

async function change(id, body) {
  try {
    await api(`/api/sensitive-words/${id}`, {method: "PATCH", body});
    el("message").textContent = "";
  } catch (error) {
    el("message").textContent = error.message;
  }
  loadWords();
}

el("add").onsubmit = async event => {
  event.preventDefault();
  const form = event.target;
  try {
    await api("/api/sensitive-words", {method: "POST", body: formBody(form)});
    showError(form, null);
    form.elements.phrase.value = "";
    loadWords();
  } catch (error) {
    showError(form, error);
  }
};

el("import").onsubmit = async event => {
  event.preventDefault();
  const form = event.target;
  el("import-result").textContent = "";
  try {
    const done = await (await api("/api/sensitive-words/import", {method: "POST", body: formBody(form)})).json();
    showError(form, null);
    form.elements.text.value = "";
    el("import-result").textContent = t("imported")
      .replace("{created}", done.created.length).replace("{skipped}", done.skipped.length);
    loadWords();
  } catch (error) {
    showError(form, error);
  }
};

el("try").onsubmit = async event => {
  event.preventDefault();
  const body = formBody(event.target);
  const found = await (await api("/api/sensitive-words/test", {method: "POST", body})).json();
  const out = el("try-result");
  if (!found.length) { out.textContent = t("nothing"); return; }
  // The text with every match marked (overlaps: the first one wins).
  const parts = [t("found"), " "];
  let at = 0;
  for (const match of found) {
    if (match.start < at) continue;
    parts.push(body.text.slice(at, match.start), make("mark", {textContent: match.text, title: match.phrase}));
    at = match.end;
  }
  parts.push(body.text.slice(at));
  out.replaceChildren(...parts);
};

el("filter").onchange = loadWords;

function openTab(name) {
  document.querySelectorAll("[data-tab]").forEach(b => b.setAttribute("aria-selected", b.dataset.tab === name));
  document.querySelectorAll("[data-panel]").forEach(p => p.hidden = p.dataset.panel !== name);
}
document.querySelectorAll("[data-tab]").forEach(b => b.onclick = () => openTab(b.dataset.tab));

async function start() {
  el("login").hidden = true;
  const callId = new URLSearchParams(location.hash.slice(1)).get("call");
  let admin = true;
  try {
    await loadWords();
  } catch (error) {
    if (error.status !== 403) throw error;
    admin = false;
  }
  if (callId) { el("call-id").textContent = callId; el("alerts-for").hidden = false; }
  const supervisor = await SensitiveAlerts.mount(el("alerts"), {callId, limit: 200});
  if (!admin && !supervisor) { el("refused").hidden = false; return; }
  el("page").hidden = false;
  document.querySelector('[data-tab="lists"]').hidden = !admin;
  document.querySelector('[data-tab="alerts"]').hidden = !supervisor;
  openTab(admin && !callId ? "lists" : "alerts");
}

window.addEventListener("hashchange", () => location.reload());
I18n.onChange(() => { if (!el("page").hidden && !el("lists").hidden) loadWords(); });
bindLogin(el("login"), el("message"), start);
if (sessionStorage.getItem("token")) start();
