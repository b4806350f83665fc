// The customer portal (工单状态对客户可见): a requester sees their tickets' status and
// the agents' public replies, and replies. No agent login: the credential is a ticket
// link's token (in the URL fragment) or a session from a one-time code sent by mail.
"use strict";

I18n.init({
  title: "我的工单", signin_help: "请输入您给我们写信时使用的邮箱地址，我们会发送登录验证码。",
  email: "邮箱地址", send_code: "发送验证码", code: "6 位验证码", sign_in: "登录", sign_out: "退出",
  subject: "主题", status: "状态", updated: "更新时间", no_tickets: "您还没有工单。",
  back: "‹ 全部工单", reply_here: "请输入您的回复", send_reply: "发送回复",
  closed_note: "此工单已关闭。如需帮助，请重新联系我们。", code_sent: "如果该邮箱属于我们的客户，验证码已发送。",
  bad_code: "验证码错误或已过期", too_many: "请求过于频繁，请稍后再试", link_invalid: "链接无效或已过期，请用邮箱登录。",
  sent: "已发送", you: "您", support: "客服", signed_in_as: "已登录：",
  st_new: "已受理", st_open: "处理中", st_pending: "等待您的回复", st_on_hold: "处理中",
  st_solved: "已解决", st_closed: "已关闭", unavailable: "暂不支持邮箱登录",
}, {
  code_sent: "If the address is one of our customers', a code is on its way.",
  bad_code: "Wrong or expired code", too_many: "Too many requests; try again later",
  link_invalid: "This link is not valid any more; sign in with your email.",
  sent: "Sent", you: "You", support: "Support", signed_in_as: "Signed in as",
  st_new: "Received", st_open: "In progress", st_pending: "Waiting for your reply",
  st_on_hold: "In progress", st_solved: "Solved", st_closed: "Closed",
  unavailable: "Signing in by email is not available",
});
const t = I18n.t;
const el = id => document.getElementById(id);
const KEY = "portal_token";
const state = {me: null, ticket: null, tickets: []};

class PortalError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function call(path, {method = "GET", body, token = sessionStorage.getItem(KEY)} = {}) {
  const headers = {};
  if (token) headers.Authorization = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  if (!r.ok) {
    let detail = r.statusText;
    try { const j = await r.json(); detail = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail); } catch (_) {}
    throw new PortalError(r.status, detail);
  }
  return r.json();
}

function show(section) {
  for (const id of ["signin", "list", "ticket"]) el(id).hidden = id !== section;
}

const when = iso => iso ? new Date(iso).toLocaleString(I18n.lang === "zh" ? "zh-CN" : "en") : "";
const statusText = status => t("st_" + status);

async function start() {
  // A link's token arrives in the fragment; keep it for this tab and out of the address bar.
  const fromLink = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromLink) {
    sessionStorage.setItem(KEY, fromLink);
    history.replaceState(null, "", location.pathname);
  }
  if (!sessionStorage.getItem(KEY)) { show("signin"); return; }
  try {
    state.me = await call("/api/portal/me");
  } catch (e) {
    sessionStorage.removeItem(KEY);
    show("signin");
    if (e.status === 403 || e.status === 401) el("message").textContent = t("link_invalid");
    return;
  }
  el("who").textContent = `${t("signed_in_as")} ${state.me.name}`;
  el("back").hidden = state.me.ticket_id !== null;  // a link shows its one ticket
  el("signout").hidden = state.me.ticket_id !== null;
  if (state.me.ticket_id !== null) await openTicket(state.me.ticket_id);
  else await loadList();
}

async function loadList() {
  state.ticket = null;
  state.tickets = (await call("/api/portal/tickets")).items;
  renderList();
  show("list");
}

function renderList() {
  el("none").hidden = state.tickets.length > 0;
  el("tickets").replaceChildren(...state.tickets.map(ticket => {
    const tr = document.createElement("tr");
    tr.dataset.id = ticket.id;
    const link = Object.assign(document.createElement("a"), {textContent: ticket.subject});
    link.onclick = () => openTicket(ticket.id);
    const badge = Object.assign(document.createElement("span"), {className: "status", textContent: statusText(ticket.status)});
    badge.dataset.status = ticket.status;
    const cells = [String(ticket.id), link, badge, when(ticket.updated_at)].map(content => {
      const td = document.createElement("td");
      td.append(content);
      return td;
    });
    tr.append(...cells);
    return tr;
  }));
}

async function openTicket(id) {
  state.ticket = await call(`/api/portal/tickets/${id}`);
  renderTicket();
  show("ticket");
}

function renderTicket() {
  const ticket = state.ticket;
  el("subject").textContent = ticket.subject;
  el("ticket-id").textContent = ticket.id;
  el("status").textContent = statusText(ticket.status);
  el("status").dataset.status = ticket.status;
  const items = [];
  if (ticket.description) items.push({by: "customer", author: t("you"), at: ticket.created_at, body: ticket.description});
  items.push(...ticket.comments);
  el("comments").replaceChildren(...items.map(comment => {
    const li = document.createElement("li");
    li.dataset.by = comment.by;
    const meta = document.createElement("small");
    meta.textContent = `${comment.by === "customer" ? t("you") : `${t("support")} · ${comment.author}`} — ${when(comment.at)}`;
    li.append(meta, comment.body);
    return li;
  }));
  const closed = ticket.status === "closed";
  el("reply").hidden = closed;
  el("closed").hidden = !closed;
}

el("ask").onsubmit = async event => {
  event.preventDefault();
  const email = new FormData(el("ask")).get("email");
  try {
    await call("/api/portal/code", {method: "POST", body: {email}, token: null});
    el("message").textContent = t("code_sent");
    el("enter").hidden = false;
  } catch (e) {
    el("message").textContent = e.status === 429 ? t("too_many") : e.status === 503 ? t("unavailable") : e.message;
  }
};

el("enter").onsubmit = async event => {
  event.preventDefault();
  const email = new FormData(el("ask")).get("email");
  const code = new FormData(el("enter")).get("code");
  try {
    const session = await call("/api/portal/session", {method: "POST", body: {email, code}, token: null});
    sessionStorage.setItem(KEY, session.token);
    el("message").textContent = "";
    await start();
  } catch (e) {
    el("message").textContent = t("bad_code");
  }
};

el("reply").onsubmit = async event => {
  event.preventDefault();
  const body = el("reply").elements.body.value;
  try {
    await call(`/api/portal/tickets/${state.ticket.id}/replies`, {method: "POST", body: {body}});
    el("reply").reset();
    el("message").textContent = t("sent");
    await openTicket(state.ticket.id);
  } catch (e) {
    el("message").textContent = e.message;
  }
};

el("back").onclick = () => loadList();
el("signout").onclick = () => { sessionStorage.removeItem(KEY); state.me = null; show("signin"); };
I18n.onChange(() => { if (state.ticket) renderTicket(); else if (state.me) renderList(); });
start();
