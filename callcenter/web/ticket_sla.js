// SLA clocks (服务时限): the ticket's clocks from GET /api/tickets/{id}/sla, and the list's
// marks from GET /api/sla/tickets (two queries per list, not one per row). The server
// judges; the page shows its judgement and its times, never its own countdown.
import {el, fill, fmtTime, json, make, t} from "./ticket_shared.js";

export const ZH = {
  sla: "服务时限", no_sla: "无服务时限", m_first_response: "首次响应", m_next_response: "下次响应",
  m_resolution: "解决", c_active: "进行中", c_warning: "即将超时", c_paused: "已暂停", c_achieved: "已达成",
  c_breached: "已超时", due_at: "{time} 前", sla_breached: "已超时", sla_warning: "即将超时", target: "目标 {n} 分钟",
};
export const EN = {
  sla: "SLA", no_sla: "No SLA", m_first_response: "First response", m_next_response: "Next response",
  m_resolution: "Resolution", c_active: "On track", c_warning: "Due soon", c_paused: "Paused",
  c_achieved: "Met", c_breached: "Breached", due_at: "due {time}", sla_breached: "SLA breached",
  sla_warning: "SLA due soon", target: "target {n} min",
};

let marks = new Map();  // ticket id -> "breached" | "warning", for the list

export async function loadClocks(id) {
  return json(`/api/tickets/${id}/sla`).catch(() => null);
}

// The worst a ticket's clocks say: a breach, else a warning, else nothing to flag.
export function worst(sla) {
  const statuses = sla ? sla.metrics.map(m => m.status) : [];
  return statuses.includes("breached") ? "breached" : statuses.includes("warning") ? "warning" : null;
}

// The time that matters for the clock's status: its breach, its success, or its deadline.
function when(metric) {
  if (metric.status === "breached") return fmtTime(metric.breached_at);
  if (metric.status === "achieved") return fmtTime(metric.achieved_at);
  if (metric.status === "paused" || !metric.due_at) return "";
  return fill(t("due_at"), {time: fmtTime(metric.due_at)});
}

export function renderClocks(sla) {
  const flag = worst(sla);
  el("d-sla-badge").hidden = !flag;
  if (flag) {
    el("d-sla-badge").className = `badge sla-${flag}`;
    el("d-sla-badge").textContent = t("sla_" + flag);
  }
  if (!sla || sla.metrics.length === 0) {
    el("d-sla").replaceChildren(make("span", {className: "muted", textContent: t("no_sla")}));
    return;
  }
  el("d-sla").replaceChildren(...sla.metrics.map(metric => {
    const name = t("m_" + metric.metric) + (metric.metric === "next_response" && metric.cycle > 1 ? ` ${metric.cycle}` : "");
    const chip = make("span", {className: `clock ${metric.status}`,
                               title: fill(t("target"), {n: Math.round(metric.target_minutes)})},
      make("b", {textContent: name}), ` · ${t("c_" + metric.status)}`,
      ...(when(metric) ? [` · ${when(metric)}`] : []));
    chip.dataset.metric = metric.metric;
    chip.dataset.status = metric.status;
    return chip;
  }));
}

// Which listed tickets to flag: clocks breached or due soon, on tickets still being worked.
export async function loadMarks() {
  const found = new Map();
  const [breached, warning] = await Promise.all(["breached", "warning"].map(status =>
    json(`/api/sla/tickets?status=${status}&limit=500`).catch(() => ({items: []}))));
  for (const item of warning.items.concat(breached.items)) {
    if (item.status === "solved" || item.status === "closed") continue;
    if (found.get(item.ticket_id) !== "breached") found.set(item.ticket_id, item.clock.status);
  }
  marks = found;
}

export function listMark(ticketId) {
  const flag = marks.get(ticketId);
  return flag ? make("span", {className: `badge sla-${flag}`, textContent: t("sla_" + flag)}) : null;
}
