// Shared by every page: the language switch, API calls with the session's token, login.
// Pages mark text with data-i18n="key" (and data-i18n-placeholder, data-i18n-label); the English is the
// page's own text, the Chinese comes from the table each page passes to I18n.init.
"use strict";

// The parts every page has, written once: language buttons and the login form.
document.querySelectorAll("div.lang:empty").forEach(div => div.innerHTML =
  '<button data-lang="en">English</button><button data-lang="zh">中文</button>');
document.querySelectorAll("form#login:empty").forEach(form => form.innerHTML = `
  <input name="username" autocomplete="username" data-i18n-placeholder="username" placeholder="user name" required>
  <input name="password" type="password" autocomplete="current-password" data-i18n-placeholder="password" placeholder="password" required>
  <button data-i18n="login">Log in</button>`);
const COMMON_CHINESE = {login: "登录", username: "用户名", password: "密码", failed: "登录失败"};

const I18n = (() => {
  const english = {};
  let chinese = {};
  let lang = localStorage.getItem("lang") || (navigator.language.startsWith("zh") ? "zh" : "en");
  const listeners = [];

  function apply() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach(el => el.textContent = t(el.dataset.i18n));
    document.querySelectorAll("[data-i18n-placeholder]").forEach(
      el => el.placeholder = t(el.dataset.i18nPlaceholder));
    document.querySelectorAll("[data-i18n-label]").forEach(el => el.label = t(el.dataset.i18nLabel));
  }
  function t(key) {
    return (lang === "zh" && chinese[key]) || english[key] || key;
  }
  function set(value) {
    lang = value;
    localStorage.setItem("lang", lang);
    apply();
    listeners.forEach(listener => listener());
  }
  // zh: the Chinese texts; more: English texts the markup does not show (messages).
  function init(zh, more = {}) {
    document.querySelectorAll("[data-i18n]").forEach(el => english[el.dataset.i18n] = el.textContent);
    document.querySelectorAll("[data-i18n-placeholder]").forEach(
      el => english[el.dataset.i18nPlaceholder] = el.placeholder);
    document.querySelectorAll("[data-i18n-label]").forEach(el => english[el.dataset.i18nLabel] = el.label);
    Object.assign(english, {failed: "Login failed"}, more);
    chinese = {...COMMON_CHINESE, ...zh};
    document.querySelectorAll("[data-lang]").forEach(b => b.onclick = () => set(b.dataset.lang));
    apply();
  }
  return {init, t, set, onChange: listener => listeners.push(listener), get lang() { return lang; }};
})();

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, {method = "GET", body} = {}) {
  const headers = {Authorization: "Bearer " + sessionStorage.getItem("token")};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  if (!r.ok) {
    let detail = r.statusText;
    try { const j = await r.json(); detail = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail); } catch (_) {}
    throw new ApiError(r.status, detail);
  }
  return r;
}

// Wire a login form (inputs named username and password); onReady runs once logged in.
function bindLogin(form, message, onReady) {
  form.onsubmit = async event => {
    event.preventDefault();
    const data = new FormData(form);
    const r = await fetch("/api/auth/login", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({username: data.get("username"), password: data.get("password")}),
    });
    if (!r.ok) { message.textContent = I18n.t("failed"); return; }
    sessionStorage.setItem("token", (await r.json()).access_token);
    message.textContent = "";
    onReady();
  };
}

// The live events websocket; the token travels as a subprotocol (browsers set no headers).
// An element with properties and children (nodes or text), never parsed HTML.
function make(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function openEvents(onEvent, types = "") {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = types ? `?types=${encodeURIComponent(types)}` : "";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/events${query}`,
                           ["callcenter", "bearer." + sessionStorage.getItem("token")]);
  ws.onmessage = message => onEvent(JSON.parse(message.data));
  return ws;
}

// Announcements (客服公告) into a list element: newest first, with who and when; a
// remove button each when `onRemove` is given (the wallboard's, for supervisors).
async function loadAnnouncements(list, onRemove) {
  const items = await (await api("/api/announcements")).json();
  list.replaceChildren(...items.map(item => {
    const li = document.createElement("li");
    li.dataset.id = item.id;
    const when = new Date(item.created_at).toLocaleTimeString(I18n.lang === "zh" ? "zh-CN" : "en",
                                                             {hour: "2-digit", minute: "2-digit"});
    const meta = document.createElement("small");
    meta.textContent = ` — ${item.author}, ${when}${item.team ? ` · ${item.team}` : ""}`;
    li.append(Object.assign(document.createElement("span"), {textContent: item.text}), meta);
    if (onRemove) {
      const remove = Object.assign(document.createElement("button"), {textContent: "×"});
      remove.onclick = () => onRemove(item.id);
      li.append(" ", remove);
    }
    return li;
  }));
  return items.length;
}
