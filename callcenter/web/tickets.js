// Tickets (工单) for agents: the tickets of their groups and those assigned to them, one
// ticket's fields, history and comments, and live changes from /ws/events (`ticket.*`).
// The server decides who sees what (docs/tickets.md); this page only shows it.
// An ES module: the ticket's type and fields, attachments, links, SLA clocks and mails
// are parts of their own (ticket_*.js), each with its strings in Chinese and English.
import * as fields from "./ticket_fields.js";
import * as files from "./ticket_files.js";
import * as links from "./ticket_links.js";
import * as mail from "./ticket_mail.js";
import * as sla from "./ticket_sla.js";
import {el, explain, fmtTime, json, make, option, page, say} from "./ticket_shared.js";

const PARTS = [fields, files, links, mail, sla];
I18n.init(Object.assign({
  title: "工单", desktop: "← 坐席工作台", all_visible: "我的班组和我的工单", assigned_me: "指派给我的",
  any_status: "全部状态", search: "搜索主题", show: "查询", subject: "主题", status: "状态",
  group: "处理组", updated: "更新时间", pick: "从列表中选择一个工单。", priority: "优先级", type: "类型",
  assignee: "处理人", requester: "客户", source: "来源", created: "创建时间",
  play: "播放通话录音", description: "描述", class: "客户类别", contacts: "联系方式",
  timeline: "往来记录", history: "处理记录", add: "回复或备注",
  reply: "发送公开回复（客户可见）", note: "添加内部备注（仅坐席可见）",
  s_new: "新建", s_open: "处理中", s_pending: "等待客户", s_on_hold: "挂起", s_solved: "已解决",
  s_closed: "已关闭", p_low: "低", p_normal: "普通", p_high: "高", p_urgent: "紧急",
  src_api: "API", src_call: "来电", src_email: "邮件", src_chat: "在线客服",
  unassigned: "未指派", public_reply: "公开回复", internal_note: "内部备注", change_to: "改为…",
total: "共 {n} 个工单", live: "工单 #{id} 刚刚有更新",
  f_subject: "主题", f_description: "描述", f_type: "类型", f_priority: "优先级", f_status: "状态",
  f_group_id: "处理组", f_assignee_id: "处理人", f_tags: "标签", f_custom_fields: "自定义字段",
  created_it: "创建了工单", nobody: "无", k_call: "通话", k_ticket: "工单", empty: "请先填写内容。",
  system: "系统", customer_reply: "客户回复", linked_it: "关联了", unlinked_it: "取消关联",
}, ...PARTS.map(part => part.ZH)), Object.assign({
  s_new: "New", s_open: "Open", s_pending: "Pending", s_on_hold: "On hold", s_solved: "Solved",
  s_closed: "Closed", p_low: "Low", p_normal: "Normal", p_high: "High", p_urgent: "Urgent",
  src_api: "API", src_call: "Call", src_email: "Email", src_chat: "Chat",
  unassigned: "Unassigned", public_reply: "Public reply", internal_note: "Internal note",
  change_to: "Change to…", total: "{n} tickets", live: "Ticket #{id} changed just now",
  f_subject: "subject", f_description: "description", f_type: "type", f_priority: "priority",
  f_status: "status", f_group_id: "group", f_assignee_id: "assignee", f_tags: "tags",
  f_custom_fields: "custom fields", created_it: "created the ticket", nobody: "nobody",
  k_call: "Call", k_ticket: "Ticket", empty: "Write something first.", system: "system",
  customer_reply: "Customer's reply", linked_it: "linked", unlinked_it: "unlinked",
}, ...PARTS.map(part => part.EN)));
const t = I18n.t;

// The status table of docs/tickets.md (tickets/workflow.py): the server refuses any
// other move; offering only these keeps the agent from trying.
const TRANSITIONS = {
  new: ["open", "pending", "on_hold", "solved", "closed"],
  open: ["pending", "on_hold", "solved", "closed"],
  pending: ["open", "on_hold", "solved", "closed"],
  on_hold: ["open", "pending", "solved", "closed"],
  solved: ["open", "closed"],
  closed: [],
};
const PRIORITIES = ["low", "normal", "high", "urgent"];

const state = {me: null, groups: [], items: [], total: 0, live: null, ticket: null, history: [], customer: null,
               timeline: [], sla: null, links: [], mails: []};
const groupName = id => (state.groups.find(g => g.id === id) || {name: `#${id}`}).name;
function personName(id) {
  if (id === null || id === undefined) return t("nobody");
  for (const group of state.groups) {
    const person = (group.people || []).find(p => p.id === id);
    if (person) return person.name;
  }
  return state.me && id === state.me.id ? state.me.username : `#${id}`;
}

// ---- the list ---------------------------------------------------------------------------

async function loadList() {
  const query = new URLSearchParams({limit: "100"});
  if (el("view").value === "me") query.set("assignee", "me");
  else if (el("view").value) query.set("group_id", el("view").value);
  if (el("status-filter").value) query.set("status", el("status-filter").value);
  if (el("search").value.trim()) query.set("q", el("search").value.trim());
  const [found] = await Promise.all([json(`/api/tickets?${query}`), sla.loadMarks()]);
  state.items = found.items;
  state.total = found.total;
  renderList();
}

function renderList(flashId = null) {
  el("count").textContent = t("total").replace("{n}", state.total);
  el("live").textContent = state.live ? t("live").replace("{id}", state.live) : "";
  el("list").tBodies[0].replaceChildren(...state.items.map(ticket => {
    const tr = make("tr");
    tr.dataset.id = ticket.id;
    if (state.ticket && state.ticket.id === ticket.id) tr.classList.add("picked");
    if (ticket.id === flashId) tr.classList.add("flash");
    const subject = make("td", {textContent: ticket.subject});
    if (ticket.priority === "high" || ticket.priority === "urgent") {
      subject.prepend(make("span", {className: `prio-${ticket.priority}`, textContent: `${t("p_" + ticket.priority)} · `}));
    }
    tr.append(make("td", {textContent: ticket.id}), subject,
              make("td", {className: "status"}, make("span", {className: `badge ${ticket.status}`, textContent: t("s_" + ticket.status)}),
                   ...[sla.listMark(ticket.id)].filter(Boolean)),
              make("td", {textContent: groupName(ticket.group_id)}),
              make("td", {className: "muted when", textContent: fmtTime(ticket.updated_at)}));
    tr.onclick = () => openTicket(ticket.id);
    return tr;
  }));
}

function renderFilters() {
  const view = el("view").value, status = el("status-filter").value;
  const mine = state.groups.filter(g => g.members.includes(state.me.id));
  el("view").replaceChildren(option("", t("all_visible")), option("me", t("assigned_me")),
    ...mine.map(g => option(g.id, `${t("group")}: ${g.name}`)));
  el("view").value = view;
  el("status-filter").replaceChildren(option("", t("any_status")),
    ...Object.keys(TRANSITIONS).map(s => option(s, t("s_" + s))));
  el("status-filter").value = status;
}

// ---- one ticket -------------------------------------------------------------------------

// Opens overlap (a click, live events, a merge opening its target): the latest wins, so
// one ticket's parts never land in another's pane.
let opening = 0, showing = null;  // showing: the ticket last asked for, maybe still loading
async function openTicket(id) {
  const turn = ++opening;
  showing = id;
  let ticket;
  try {
    ticket = await json(`/api/tickets/${id}`);
  } catch (error) {
    if (error.status !== 404) throw error;
    if (turn !== opening) return;
    // Gone from sight (moved to another group): nothing left to show.
    if (state.ticket && state.ticket.id === id) closeDetail();
    return;
  }
  const [got, customer, clocks, linked, mails] = await Promise.all([
    json(`/api/tickets/${id}/history`),
    state.customer && state.customer.id === ticket.requester_id ? state.customer
      : json(`/api/customers/${ticket.requester_id}`).catch(() => null),
    sla.loadClocks(id), links.loadLinks(id), mail.loadMails(id),
  ]);
  if (turn !== opening) return;
  const changed = !state.ticket || state.ticket.id !== id;
  state.ticket = page.ticket = ticket;
  state.history = got.items;
  state.customer = customer;
  Object.assign(state, {sla: clocks, links: linked, mails});
  if (changed) {
    el("customer").hidden = true;
    el("player").hidden = true;
    el("comment-body").value = "";
    el("comment-file").value = "";
    say("");
    fields.forgetDraft();
    mail.forgetPortalLink();
    history.replaceState(null, "", `#ticket=${id}`);
  }
  renderDetail();
  renderList();
}

function closeDetail() {
  state.ticket = page.ticket = showing = null;
  el("detail").hidden = true;
  el("nothing").hidden = false;
  renderList();
}

function renderDetail() {
  const ticket = state.ticket;
  if (!ticket) return;
  el("nothing").hidden = true;
  el("detail").hidden = false;
  el("d-id").textContent = `#${ticket.id}`;
  el("d-subject").textContent = ticket.subject;
  el("d-status").className = `badge ${ticket.status}`;
  el("d-status").textContent = t("s_" + ticket.status);
  const moves = TRANSITIONS[ticket.status] || [];
  el("status-change").replaceChildren(option("", t("change_to")), ...moves.map(s => option(s, t("s_" + s))));
  el("status-change").hidden = moves.length === 0;
  el("priority").replaceChildren(...PRIORITIES.map(p => option(p, t("p_" + p), p === ticket.priority)));
  fields.renderFields(ticket);
  el("group").replaceChildren(...state.groups.map(g => option(g.id, g.name, g.id === ticket.group_id)));
  const group = state.groups.find(g => g.id === ticket.group_id);
  const people = group ? group.people : [];
  el("assignee").replaceChildren(option("", t("unassigned"), ticket.assignee_id === null),
    ...people.map(p => option(p.id, p.name, p.id === ticket.assignee_id)));
  if (ticket.assignee_id !== null && !people.some(p => p.id === ticket.assignee_id)) {
    el("assignee").append(option(ticket.assignee_id, personName(ticket.assignee_id), true));
  }
  const closed = ticket.status === "closed";
  for (const id of ["priority", "type", "group", "assignee", "comment-body", "comment-file", "reply", "note"]) {
    el(id).disabled = closed;
  }
  el("requester").textContent = state.customer ? (state.customer.name || `#${ticket.requester_id}`) : `#${ticket.requester_id}`;
  el("d-source").textContent = ticket.call_id ? `${t("k_call")} #${ticket.call_id}` : t("src_" + ticket.source);
  el("d-created").textContent = fmtTime(ticket.created_at);
  el("d-call").hidden = !ticket.call_id;
  el("description").textContent = ticket.description;
  el("description").hidden = el("description-title").hidden = !ticket.description;
  sla.renderClocks(state.sla);
  links.renderLinks(state.links);
  mail.renderMails(state.mails);
  renderHistory();
  if (!el("customer").hidden) renderCustomer();
}

function valueText(field, value) {
  if (value === null || value === undefined) return t("nobody");
  if (field === "status") return t("s_" + value);
  if (field === "priority") return t("p_" + value);
  if (field === "type") return fields.typeLabel(value);
  if (field === "link") return `${t("lk_" + value.kind)} #${value.ticket_id}`;
  if (field === "group_id") return groupName(value);
  if (field === "assignee_id") return personName(value);
  if (Array.isArray(value)) return value.join(", ");
  if (typeof value === "object") {
    const entries = Object.entries(value);
    return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(", ") : "—";
  }
  const text = String(value);
  return text.length > 60 ? text.slice(0, 57) + "…" : text;
}

// A customer's reply, an agent's public reply and an internal note each look their own;
// a file that came with a comment is shown in it, a file alone as its own item.
function renderHistory() {
  const comments = new Set(state.history.filter(i => i.kind === "comment").map(i => i.id));
  const filesOf = new Map();
  for (const item of state.history) {
    if (item.kind === "attachment" && comments.has(item.comment_id)) {
      filesOf.set(item.comment_id, [...(filesOf.get(item.comment_id) || []), item]);
    }
  }
  const failed = error => say(explain(error), true);
  const fileList = items => make("div", {className: "files"}, ...items.map(item => files.fileButton(item, failed)));
  el("history").replaceChildren(...state.history.filter(item =>
    item.kind !== "attachment" || !comments.has(item.comment_id)).map(item => {
    if (item.kind === "comment" || item.kind === "attachment") {
      const kind = item.by === "customer" ? "customer" : item.public ? "public" : "internal";
      const label = item.kind === "attachment" ? `${t("attachment")} · ${t(item.public ? "public_reply" : "internal_note")}`
        : t({customer: "customer_reply", public: "public_reply", internal: "internal_note"}[kind]);
      const who = item.kind === "attachment" ? item.uploader : item.author;
      const li = make("li", {className: `comment ${kind}`},
        make("div", {},
          make("span", {className: "kind", textContent: label}),
          make("span", {className: "muted", textContent: ` · ${who.name || t("system")} · ${fmtTime(item.at)}`})));
      if (item.kind === "comment") li.append(make("div", {className: "body", textContent: item.body}));
      const attached = item.kind === "attachment" ? [item] : filesOf.get(item.id) || [];
      if (attached.length) li.append(fileList(attached));
      return li;
    }
    const who = item.actor.name || t("system");
    const what = item.field === "status" && item.old === null ? t("created_it")
      : item.field === "link" ? `${t(item.new ? "linked_it" : "unlinked_it")} ${valueText("link", item.new || item.old)}`
      : `${t("f_" + item.field)}: ${valueText(item.field, item.old)} → ${valueText(item.field, item.new)}`;
    return make("li", {className: "change", textContent: `${fmtTime(item.at)} · ${who} · ${what}`});
  }));
}

async function change(body) {
  say("");
  try {
    state.ticket = page.ticket = await json(`/api/tickets/${state.ticket.id}`, {method: "PATCH", body});
  } catch (error) {
    say(explain(error), true);
  }
  await openTicket(state.ticket.id);
  await loadList();
}

// A reply or a note, with the chosen file if any (then one multipart request: a refused
// file stores nothing, the comment neither).
async function comment(isPublic) {
  const body = el("comment-body").value.trim();
  const file = el("comment-file").files[0];
  if (!body && !file) { say(t("empty"), true); return; }
  try {
    if (file) await files.upload(state.ticket.id, file, isPublic, body);
    else await api(`/api/tickets/${state.ticket.id}/comments`, {method: "POST", body: {body, public: isPublic}});
    el("comment-body").value = "";
    el("comment-file").value = "";
    say("");
  } catch (error) {
    say(file ? files.uploadRefusal(error) : explain(error), true);
  }
  await openTicket(state.ticket.id);
}

// ---- the requester ----------------------------------------------------------------------

async function showCustomer() {
  if (!state.ticket) return;
  const id = state.ticket.requester_id;
  const [customer, timeline] = await Promise.all([
    json(`/api/customers/${id}`), json(`/api/customers/${id}/timeline`)]);
  state.customer = customer;
  state.timeline = timeline.items;
  el("customer").hidden = false;
  renderCustomer();
}

function renderCustomer() {
  const customer = state.customer;
  if (!customer) return;
  el("c-name").textContent = customer.name || `#${customer.id}`;
  el("c-class").textContent = customer.class;
  el("c-contacts").textContent = customer.identities.map(i => i.value).join(", ");
  el("c-timeline").replaceChildren(...(state.timeline || []).slice(0, 10).map(item => {
    const li = make("li", {textContent: `${fmtTime(item.at)} · ${t(item.kind === "ticket" ? "k_ticket" : "k_call")} `});
    if (item.kind === "ticket") {
      const link = make("a", {href: `#ticket=${item.id}`, textContent: `#${item.id} ${item.subject}`});
      link.onclick = event => { event.preventDefault(); openTicket(item.id); };
      li.append(link, ` (${t("s_" + item.status)})`);
    } else {
      li.append(`#${item.id}`);
    }
    return li;
  }));
}

// <audio> cannot send the bearer token: fetch the recording, play it from a blob URL.
async function playCall() {
  say("");
  try {
    const call = await json(`/api/calls/${state.ticket.call_id}`);
    if (!call.recording_url) { say("—"); return; }
    const player = el("player");
    if (player.src.startsWith("blob:")) URL.revokeObjectURL(player.src);
    player.src = URL.createObjectURL(await (await api(call.recording_url)).blob());
    player.hidden = false;
    player.play().catch(() => {});
  } catch (error) {
    say(explain(error), true);
  }
}

// ---- live -------------------------------------------------------------------------------

let listTimer = null, detailTimer = null;
function onEvent(event) {
  if (event.type === "hello" || !event.type.startsWith("ticket.")) return;
  const id = event.data.id;
  state.live = id;
  el("live").textContent = t("live").replace("{id}", id);
  // A merge changes its target too (copies, a note): the target's agent sees them arrive.
  if (showing !== null && (showing === id || showing === event.data.into)) {
    clearTimeout(detailTimer);  // a reply comes as commented + customer_replied (+ updated): read once
    detailTimer = setTimeout(() => showing !== null && openTicket(showing), 60);
  }
  clearTimeout(listTimer);  // a burst of changes reloads the list once
  listTimer = setTimeout(async () => { await loadList(); renderList(id); }, 150);
}

// ---- start ------------------------------------------------------------------------------

async function start() {
  try {
    state.me = await json("/api/auth/me");
  } catch (error) {
    sessionStorage.removeItem("token");
    el("message").textContent = I18n.t("failed");
    return;
  }
  [state.groups] = await Promise.all([json("/api/ticket-groups"), fields.loadTypes()]);
  page.groups = state.groups;
  el("login").hidden = true;
  el("tickets").hidden = false;
  renderFilters();
  await loadList();
  openEvents(onEvent, "ticket.");
  const wanted = /ticket=(\d+)/.exec(location.hash);
  if (wanted) await openTicket(Number(wanted[1]));
}

el("filters").onsubmit = event => { event.preventDefault(); loadList(); };
el("view").onchange = () => loadList();
el("status-filter").onchange = () => loadList();
el("status-change").onchange = () => { if (el("status-change").value) change({status: el("status-change").value}); };
el("priority").onchange = () => change({priority: el("priority").value});
el("group").onchange = () => change({group_id: Number(el("group").value)});
el("assignee").onchange = () => change({assignee_id: el("assignee").value ? Number(el("assignee").value) : null});
el("reply").onclick = () => comment(true);
el("note").onclick = () => comment(false);
el("requester").onclick = event => { event.preventDefault(); showCustomer(); };
el("play").onclick = playCall;
page.reload = () => state.ticket ? openTicket(state.ticket.id) : Promise.resolve();
page.open = openTicket;
fields.bindFields();
links.bindLinks();
mail.bindMail(() => state.ticket.id);
I18n.onChange(() => {
  if (!state.me) return;
  renderFilters();
  renderList();
  renderDetail();
});
bindLogin(el("login"), el("message"), start);
if (sessionStorage.getItem("token")) start();
