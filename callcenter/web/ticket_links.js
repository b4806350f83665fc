// Linked tickets (关联工单): related, problem/incident, original/duplicate; solving a
// problem with its incidents; merging this ticket into another. `kind` is always what
// the other ticket is to this one (docs/tickets.md, Links).
import {el, explain, fill, json, make, option, page, say, t} from "./ticket_shared.js";

export const KINDS = ["related", "problem", "incident", "original", "duplicate"];
export const ZH = {
  links: "关联工单", no_links: "没有关联工单。", link_add: "关联", link_id: "工单号", remove_link: "取消关联",
  lk_related: "相关", lk_problem: "问题", lk_incident: "事件", lk_original: "原工单", lk_duplicate: "重复",
  la_related: "相关工单", la_problem: "此工单的根本问题", la_incident: "此问题引发的事件",
  la_original: "此工单重复的原工单", la_duplicate: "此工单的重复工单",
  solve_box: "解决此问题及其事件", solve_body: "给每个事件的留言（可不填）",
  solve_public: "客户可见（公开回复）", solve: "解决", solve_confirm: "解决 #{id} 及其未解决的事件？",
  solved_n: "已解决：{ids}", merge_box: "合并到另一个工单", merge_into: "目标工单号", merge: "合并",
  merge_confirm: "把 #{id} 合并到 #{into}？评论和附件会复制过去，#{id} 将作为重复工单关闭。",
  need_id: "请输入工单号。", linked: "已关联。",
};
export const EN = {
  links: "Linked tickets", no_links: "No linked tickets.", link_add: "Link", link_id: "ticket #",
  remove_link: "Remove link",
  lk_related: "Related", lk_problem: "Problem", lk_incident: "Incident", lk_original: "Original",
  lk_duplicate: "Duplicate",
  la_related: "A related ticket", la_problem: "The problem behind this one",
  la_incident: "An incident of this problem", la_original: "The original this one duplicates",
  la_duplicate: "A duplicate of this one",
  solve_box: "Solve this problem and its incidents", solve_body: "A comment on each incident (optional)",
  solve_public: "The customers read it (public reply)", solve: "Solve",
  solve_confirm: "Solve #{id} and its open incidents?", solved_n: "Solved: {ids}",
  merge_box: "Merge into another ticket", merge_into: "target ticket #", merge: "Merge",
  merge_confirm: "Merge #{id} into #{into}? Its comments and attachments are copied there, and #{id} is closed as a duplicate.",
  need_id: "Enter a ticket number.", linked: "Linked.",
};

export async function loadLinks(id) {
  return (await json(`/api/tickets/${id}/links`)).items;
}

export function renderLinks(links) {
  const closed = page.ticket.status === "closed";
  el("links").replaceChildren(...links.map(link => {
    const open = make("a", {href: `#ticket=${link.ticket_id}`, textContent: `#${link.ticket_id} ${link.subject}`});
    open.onclick = event => { event.preventDefault(); page.open(link.ticket_id); };
    const remove = make("button", {type: "button", className: "remove", textContent: "×", title: t("remove_link")});
    remove.setAttribute("aria-label", `${t("remove_link")} #${link.ticket_id}`);
    remove.onclick = () => act(() => api(`/api/tickets/${page.ticket.id}/links/${link.ticket_id}`, {method: "DELETE"}));
    const li = make("li", {}, make("span", {className: `link-kind ${link.kind}`, textContent: t("lk_" + link.kind)}),
      " ", open, make("span", {className: "muted", textContent: ` (${t("s_" + link.status)}) `}), remove);
    li.dataset.ticket = link.ticket_id;
    return li;
  }));
  el("no-links").hidden = links.length > 0;
  const kind = el("link-kind").value;
  el("link-kind").replaceChildren(...KINDS.map(k => option(k, t("la_" + k), k === kind)));
  // Only a problem (a ticket with incidents) has incidents to solve. Links describe
  // tickets, so a closed one still takes them; it cannot be solved or merged any more.
  el("solve-box").hidden = closed || !links.some(link => link.kind === "incident");
  el("merge-box").hidden = closed;
}

async function act(work, done = "") {
  say("");
  try {
    await work();
    say(done);
  } catch (error) {
    say(explain(error), true);
  }
  await page.reload();
}

function ticketNumber(input) {
  const value = Number(input.value.replace(/^#/, ""));
  return Number.isInteger(value) && value > 0 ? value : null;
}

async function addLink(event) {
  event.preventDefault();
  const other = ticketNumber(el("link-id"));
  if (!other) { say(t("need_id"), true); return; }
  await act(async () => {
    await api(`/api/tickets/${page.ticket.id}/links`, {method: "POST", body: {ticket_id: other, kind: el("link-kind").value}});
    el("link-id").value = "";
  }, t("linked"));
}

async function solve(event) {
  event.preventDefault();
  if (!confirm(fill(t("solve_confirm"), {id: page.ticket.id}))) return;
  const text = el("solve-body").value.trim();
  const body = text ? {body: text, public: el("solve-public").checked} : {};
  let solved = [];
  await act(async () => {
    solved = (await json(`/api/tickets/${page.ticket.id}/solve-incidents`, {method: "POST", body})).solved;
    el("solve-body").value = "";
  });
  if (solved.length) say(fill(t("solved_n"), {ids: solved.map(id => `#${id}`).join(", ")}));
}

async function merge(event) {
  event.preventDefault();
  const into = ticketNumber(el("merge-into"));
  if (!into) { say(t("need_id"), true); return; }
  const id = page.ticket.id;
  if (!confirm(fill(t("merge_confirm"), {id, into}))) return;
  say("");
  try {
    const target = await json(`/api/tickets/${id}/merge`, {method: "POST", body: {into}});
    el("merge-into").value = "";
    await page.open(target.id);
  } catch (error) {
    say(explain(error), true);
  }
}

export function bindLinks() {
  el("link-form").onsubmit = addLink;
  el("solve-form").onsubmit = solve;
  el("merge-form").onsubmit = merge;
}
