// The agent's chats (docs/agent-guide.md, "Web chat"): offers to accept, open chats as
// tabs, history with notes, send, internal note, typing, end; offline messages.
// Live changes come as ids on /ws/events (chat.*); the page fetches what it may read.
"use strict";

I18n.init({
  title: "在线会话", back: "坐席工作台", status: "在线客服", placeholder: "回复…", send: "发送",
  note: "内部备注", end: "结束会话", offline_title: "离线留言", accept: "接受", decline: "拒绝",
  new_chat: "新会话请求", online: "在线", away: "离线（访客看到留言表单）", visitor: "访客",
  joined: "加入了会话", transferred: "会话已转接", ended_by_agent: "客服结束了会话",
  ended_by_visitor: "访客结束了会话", ended_by_system: "会话已结束", typing: "访客正在输入…",
  ended: "已结束", rated: "评分", visits: "访问次数", from: "来源", search: "搜索词", page: "页面",
  internal: "内部备注", invite: "邀请同事加入", transfer: "转给同事", internal_title: "同事（内部会话）",
  send_colleague: "发送", me: "我", bot: "机器人", make_ticket: "创建工单", ticket: "工单",
  handoff: "机器人转人工", asked_for_human: "访客要求人工", failed_turns: "机器人多次未能回答",
  low_confidence: "机器人无把握", sensitive: "敏感词",
}, {bot: "Bot", ticket: "Ticket", make_ticket: "Create ticket", handoff: "handed over by the bot",
    asked_for_human: "the visitor asked for a person", failed_turns: "the bot failed to answer",
    low_confidence: "the bot was unsure", sensitive: "a sensitive word",
    accept: "Accept", decline: "Decline", new_chat: "New chat", online: "online",
    away: "offline (visitors see the message form)", visitor: "Visitor", joined: "joined the chat",
    transferred: "The chat was transferred", ended_by_agent: "The agent ended the chat",
    ended_by_visitor: "The visitor ended the chat", ended_by_system: "The chat has ended",
    typing: "The visitor is typing…", ended: "ended", rated: "rating", visits: "visits",
    from: "from", search: "search", page: "page", internal: "internal note", me: "me"});
const t = I18n.t;
const $ = id => document.getElementById(id);
const chats = new Map();  // conversation id -> {conversation, lastSeq, unread}
let current = null, meId = null, typingTimer = null, typingSent = 0;

function label(conv) { return `#${conv.id}${conv.visitor && conv.visitor.name ? " " + conv.visitor.name : ""}`; }

function line(m) {
  const div = document.createElement("div");
  div.className = `m ${m.kind === "note" ? "note" : m.sender}`;
  div.dataset.seq = m.seq;
  if (m.sender === "system") {
    div.textContent = m.body === "joined" ? `${m.name || ""} ${t("joined")}` : t(m.body);
    return div;
  }
  const who = m.sender === "visitor" ? t("visitor") : m.sender === "bot" ? t("bot") : (m.name || "");
  div.append(Object.assign(document.createElement("small"), {textContent: m.kind === "note" ? `${who} · ${t("internal")}` : who}));
  if (m.file) {
    div.append(Object.assign(document.createElement("a"), {textContent: `📄 ${m.file.filename}`, href: "#",
      onclick: async event => { event.preventDefault(); const r = await api(`/api/chats/files/${m.file.id}`);
        const a = Object.assign(document.createElement("a"), {href: URL.createObjectURL(await r.blob()), download: m.file.filename}); a.click(); }}));
  }
  div.append(document.createTextNode(m.body));
  return div;
}

async function load(id) {
  const entry = chats.get(id) || {lastSeq: 0, unread: false};
  const r = await api(`/api/chats/${id}?after=${entry.lastSeq}`);
  const conv = await r.json();
  entry.conversation = conv;
  chats.set(id, entry);
  for (const m of conv.messages) {
    if (m.seq <= entry.lastSeq) continue;
    entry.lastSeq = m.seq;
    if (current === id) $("log").append(line(m));
    else entry.unread = true;
  }
  if (current === id) { $("log").scrollTop = $("log").scrollHeight; showVisitor(conv); }
  renderTabs();
  return conv;
}

function showVisitor(conv) {
  const v = conv.visitor || {};
  const parts = [v.name || `${t("visitor")} ${conv.visitor_id}`, `${t("visits")}: ${v.visits || 1}`];
  if (conv.landing) parts.push(`${t("page")}: ${conv.landing}`);
  if (conv.referrer) parts.push(`${t("from")}: ${conv.referrer}`);
  if (conv.search_keywords) parts.push(`${t("search")}: ${conv.search_keywords}`);
  if (conv.state === "ended") parts.push(t("ended") + (conv.csat_score ? ` · ${t("rated")} ${conv.csat_score}/5` : ""));
  if (conv.handoff_reason) parts.push(`${t("handoff")}: ${t(conv.handoff_reason)}`);
  $("visitor").textContent = parts.join(" · ");
  showTicket(conv);
  const open = conv.state === "active" && conv.agents.includes(meId);
  for (const name of ["body", "send", "note", "end"]) $("compose").elements[name].disabled = !open && name !== "note";
}

function renderTabs() {
  const tabs = [...chats.values()].filter(e => e.conversation && e.conversation.agents.includes(meId));
  $("tabs").replaceChildren(...tabs.map(e => {
    const b = Object.assign(document.createElement("button"), {textContent: label(e.conversation), type: "button"});
    b.dataset.id = e.conversation.id;
    b.className = (e.conversation.id === current ? "current" : "") + (e.unread ? " unread" : "");
    if (e.conversation.state === "ended") b.textContent += ` (${t("ended")})`;
    b.onclick = () => select(e.conversation.id);
    return b;
  }));
}

async function select(id) {
  current = id;
  const entry = chats.get(id);
  if (entry) { entry.unread = false; entry.lastSeq = 0; }
  $("log").replaceChildren();
  $("chat").hidden = false;
  $("typing").textContent = "";
  await load(id);
}

function renderOffer(conv) {
  if (document.querySelector(`.offer[data-id="${conv.id}"]`)) return;
  const div = Object.assign(document.createElement("div"), {className: "offer"});
  div.dataset.id = conv.id;
  const first = (conv.messages || []).find(m => m.sender === "visitor");
  div.append(Object.assign(document.createElement("span"), {textContent: `${t("new_chat")} #${conv.id}: ${first ? first.body : ""}`}));
  const accept = Object.assign(document.createElement("button"), {textContent: t("accept"), className: "accept"});
  accept.onclick = async () => { div.remove(); await api(`/api/chats/${conv.id}/accept`, {method: "POST"}); await select(conv.id); };
  const decline = Object.assign(document.createElement("button"), {textContent: t("decline")});
  decline.onclick = async () => { div.remove(); await api(`/api/chats/${conv.id}/decline`, {method: "POST"}); };
  div.append(accept, decline);
  $("offers").append(div);
}

async function refresh() {
  const data = await (await api("/api/chats")).json();
  $("online").textContent = data.online ? t("online") : t("away");
  const offline = [];
  for (const conv of data.items) {
    if (conv.state === "offline") { offline.push(conv); continue; }
    if (conv.offered_to === meId) renderOffer(await (await api(`/api/chats/${conv.id}`)).json());
    else if (conv.agents.includes(meId) && !chats.has(conv.id)) chats.set(conv.id, {conversation: conv, lastSeq: 0, unread: true});
  }
  $("offline-list").replaceChildren(...offline.map(conv => {
    const li = document.createElement("li");
    li.textContent = `#${conv.id} ${conv.contact_name} <${conv.contact_email}> ${new Date(conv.started_at).toLocaleString()}`;
    li.onclick = async () => {
      const full = await (await api(`/api/chats/${conv.id}`)).json();
      li.textContent = `#${conv.id} ${conv.contact_name} <${conv.contact_email}>: ${full.messages.map(m => m.body).join(" / ")}`;
      li.append(" ", ticketButton(conv.id, li));
    };
    li.append(" ", ticketButton(conv.id, li, conv.ticket_id));
    return li;
  }));
  renderTabs();
}

async function onEvent(event) {
  if (!event.type.startsWith("chat.")) return;
  const id = event.data.conversation_id;
  switch (event.type) {
    case "chat.offered": renderOffer(await (await api(`/api/chats/${id}`)).json()); break;
    case "chat.offer_withdrawn": document.querySelector(`.offer[data-id="${id}"]`)?.remove(); break;
    case "chat.typing":
      if (id === current && event.data.sender === "visitor") {
        $("typing").textContent = event.data.on ? t("typing") : "";
        clearTimeout(typingTimer);
        typingTimer = setTimeout(() => { $("typing").textContent = ""; }, 4000);
      }
      break;
    case "chat.offline": await refresh(); break;
    case "chat.internal": {
      const from = event.data.sender_id === meId ? event.data.recipient_id : event.data.sender_id;
      if (![...$("internal-to").options].some(o => Number(o.value) === from)) await loadColleagues();
      if (Number($("internal-to").value) !== from) $("internal-to").value = from;
      await loadInternal();
      break;
    }
    case "chat.transferred": if (!event.data.agent_ids.includes(meId)) break; // fall through
    default:
      if (chats.has(id) || event.type === "chat.invited") await load(id);
      if (id === current && event.type === "chat.message") $("typing").textContent = "";
  }
}

// ---- a ticket from the chat (one per chat: a second click shows the same ticket) --------

function ticketAnchor(ticketId) {
  return Object.assign(document.createElement("a"), {href: `/tickets.html#ticket=${ticketId}`,
    textContent: `${t("ticket")} #${ticketId}`, className: "ticket-link"});
}

async function makeTicket(id) {
  const ticket = await (await api(`/api/chats/${id}/ticket`, {method: "POST", body: {}})).json();
  return ticket.id;
}

function ticketButton(id, li, ticketId) {
  if (ticketId) return ticketAnchor(ticketId);
  const b = Object.assign(document.createElement("button"), {type: "button", textContent: t("make_ticket")});
  b.onclick = async event => {
    event.stopPropagation();
    try { b.replaceWith(ticketAnchor(await makeTicket(id))); } catch (e) { $("message").textContent = e.message; }
  };
  return b;
}

function showTicket(conv) {
  const link = $("ticket-link");
  link.hidden = !conv.ticket_id;
  if (conv.ticket_id) { link.href = `/tickets.html#ticket=${conv.ticket_id}`; link.textContent = `${t("ticket")} #${conv.ticket_id}`; }
}

$("make-ticket").onclick = async () => {
  if (current == null) return;
  try { await makeTicket(current); } catch (e) { $("message").textContent = e.message; return; }
  showTicket(await load(current));
};

async function send(kind) {
  const input = $("compose").elements.body;
  const body = input.value.trim();
  if (!body || current == null) return;
  input.value = "";
  await api(`/api/chats/${current}/messages`, {method: "POST", body: {body, kind}});
  await load(current);
}

$("compose").onsubmit = event => { event.preventDefault(); send("text"); };
$("compose").elements.note.onclick = () => send("note");
$("compose").elements.end.onclick = async () => {
  await api(`/api/chats/${current}/end`, {method: "POST"});
  await load(current);
};
$("compose").elements.body.oninput = () => {
  const now = Date.now();
  if (current != null && now - typingSent > 2000) {
    typingSent = now;
    api(`/api/chats/${current}/typing`, {method: "POST", body: {on: true}}).catch(() => {});
  }
};

// ---- colleagues: invite or transfer a chat, and direct messages (内部会话) ------------

async function loadColleagues() {
  const targets = await (await api("/api/calls/transfer-targets")).json();
  const options = targets.agents.filter(a => a.id !== meId)
    .map(a => Object.assign(document.createElement("option"), {value: a.id, textContent: a.name}));
  $("colleague").replaceChildren(...options.map(o => o.cloneNode(true)));
  const keep = $("internal-to").value;
  $("internal-to").replaceChildren(...options);
  if (keep) $("internal-to").value = keep;
  await loadInternal();
}

async function loadInternal() {
  const other = $("internal-to").value;
  if (!other) return;
  const items = (await (await api(`/api/chats/internal/${other}`)).json()).items;
  const name = $("internal-to").selectedOptions[0]?.textContent || "";
  $("internal-log").replaceChildren(...items.map(m => Object.assign(document.createElement("div"),
    {textContent: `${m.sender_id === meId ? t("me") : name}: ${m.body}`})));
  $("internal-log").scrollTop = $("internal-log").scrollHeight;
}

$("internal-to").onchange = () => loadInternal();
$("internal-compose").onsubmit = async event => {
  event.preventDefault();
  const input = $("internal-compose").elements.body;
  const other = $("internal-to").value;
  if (!input.value.trim() || !other) return;
  await api(`/api/chats/internal/${other}`, {method: "POST", body: {body: input.value}});
  input.value = "";
  await loadInternal();
};
$("invite").onclick = async () => {
  if (current == null || !$("colleague").value) return;
  await api(`/api/chats/${current}/invite`, {method: "POST", body: {agent_id: Number($("colleague").value)}});
  await load(current);
};
$("transfer").onclick = async () => {
  if (current == null || !$("colleague").value) return;
  await api(`/api/chats/${current}/transfer`, {method: "POST", body: {agent_id: Number($("colleague").value)}});
  chats.delete(current);
  current = null;
  $("chat").hidden = true;
  renderTabs();
};

async function start() {
  const me = await (await api("/api/agents/me")).json();
  meId = me.user_id;
  $("login").hidden = true;
  $("desk").hidden = false;
  openEvents(event => onEvent(event).catch(err => { $("message").textContent = err.message; }), "chat.");
  await refresh();
  await loadColleagues();
}

bindLogin($("login"), $("message"), start);
if (sessionStorage.getItem("token")) start().catch(() => sessionStorage.removeItem("token"));
I18n.onChange(() => { if (current != null) select(current); });
