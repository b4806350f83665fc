// Reports: the service and customer reports as charts and a table (the same numbers as
// the REST API and its CSV), and the staffing forecast per half hour.
"use strict";

I18n.init({
  title: "数据报表", tab_service: "服务指标", tab_customers: "客户分析", tab_forecast: "话务预测与排班",
  from: "开始日期", to: "结束日期", by: "粒度", by_hour: "小时", by_day: "天", by_week: "周",
  group: "表格分组", g_queue: "队列", g_agent: "坐席", g_team: "班组", g_channel: "渠道", g_none: "全部",
  show: "查询", csv: "导出 CSV", empty: "该时间段没有数据。",
  c_volume: "呼入量：接通、放弃、溢出", c_sl: "服务水平与放弃率", c_times: "平均应答与平均处理时长（秒）",
  c_abandon: "放弃前等待时长", table: "明细", c_sources: "来源（被叫号码）", c_regions: "地区",
  c_customers: "新客户与老客户", queue: "队列", day: "日期",
  answered: "接通", abandoned: "放弃", overflowed: "溢出", service_level: "服务水平",
  target: "目标", abandonment: "放弃率", asa: "平均应答", aht: "平均处理时长", calls: "来电",
  volume: "预测来电量", agents_needed: "所需坐席", logged_in: "当前在线",
  period: "时段", group_col: "分组", offered: "呼入", handled: "已处理", transfers: "转接",
  callbacks: "回拨", new: "新客户", returning: "老客户", anonymous: "匿名", unknown: "未知",
  start: "开始", aht_col: "处理时长", sl_at: "预计服务水平",
  forecast_note: "在线人数只显示当前半小时（暂无排班表）。",
  tab_sla: "工单 SLA", s_priority: "优先级", s_type: "类型", s_group: "工单组", s_policy: "SLA 策略",
  c_sla: "SLA 达成率", sla_note: "统计该时间段内创建的工单；仍在目标时间内计时的不计入。",
  tickets: "工单数", first_response: "首次响应", next_response: "后续响应", resolution: "解决",
  met: "达成", breached: "超时", median_first: "首次响应中位数（分钟）",
  low: "低", normal: "普通", high: "高", urgent: "紧急",
  consultation: "咨询", complaint: "投诉", fault: "故障", other: "其他",
}, {
  answered: "Answered", abandoned: "Abandoned", overflowed: "Overflowed",
  service_level: "Service level", target: "Target", abandonment: "Abandonment",
  asa: "ASA", aht: "AHT", calls: "Calls", volume: "Forecast calls", agents_needed: "Agents needed",
  logged_in: "Logged in now", period: "Period", group_col: "Group", offered: "Offered",
  handled: "Handled", transfers: "Transfers", callbacks: "Callbacks", new: "new",
  returning: "returning", anonymous: "anonymous", unknown: "unknown", start: "Start",
  aht_col: "AHT", sl_at: "Service level",
  forecast_note: "Logged-in agents are shown for the current half hour only (no schedules yet).",
  tickets: "Tickets", first_response: "First response", next_response: "Next response",
  resolution: "Resolution", met: "met", breached: "breached",
  median_first: "Median first response (min)",
  low: "Low", normal: "Normal", high: "High", urgent: "Urgent",
  consultation: "Consultation", complaint: "Complaint", fault: "Fault", other: "Other",
});
const t = I18n.t;
const $ = id => document.getElementById(id);
const percent = v => v == null ? "–" : `${Math.round(v * 1000) / 10}%`;
const seconds = v => v == null ? "–" : String(Math.round(v));
const ABANDON_BUCKETS = [["abandon_lt10", "< 10 s"], ["abandon_10_30", "10–30 s"],
  ["abandon_30_60", "30–60 s"], ["abandon_60_120", "1–2 min"], ["abandon_ge120", "≥ 2 min"]];
const TABLE_COLUMNS = ["period", "group", "offered", "answered", "abandoned", "overflowed",
  "service_level", "asa", "aht", "abandonment_rate", "transfers", "callbacks"];
let tab = "service";
let last = {};  // what is drawn, redrawn in the other language

function query(form, extra = {}) {
  const data = Object.fromEntries(new FormData(form));
  delete data.group;
  delete data.sla_by;
  return new URLSearchParams({...data, ...extra});
}

const SLA_METRICS = [["first_response", "#2563eb"], ["next_response", "#7c3aed"], ["resolution", "#16a34a"]];
// The SLA report's `by` is its grouping (priority, type …), not a time step.
const slaQuery = (extra = {}) => query($("range"), {by: $("range").elements.sla_by.value, ...extra});

// "2026-03-02" -> "03-02"; an hour "2026-03-02T17:00:00+08:00" -> "03-02 17:00".
const periodLabel = period => period.slice(5, 16).replace("T", " ");

async function showService() {
  const form = $("range");
  const group = form.elements.group.value;
  const [floor, grouped] = await Promise.all([
    api(`/api/reports/service?${query(form, {group: "none"})}`).then(r => r.json()),
    api(`/api/reports/service?${query(form, {group})}`).then(r => r.json()),
  ]);
  last.service = {floor, grouped};
  drawService();
}

// Every day (or week) of the range, so a quiet day shows as a gap, not as nothing; the
// API returns only the periods with something counted. Hours are drawn as they come.
function allPeriods(report) {
  if (report.by === "hour") return report.rows;
  const found = Object.fromEntries(report.rows.map(row => [row.period, row]));
  const day = new Date(`${report.from}T00:00:00Z`), last = new Date(`${report.to}T00:00:00Z`);
  if (report.by === "week") day.setUTCDate(day.getUTCDate() - (day.getUTCDay() + 6) % 7);  // Monday
  const rows = [];
  for (; day <= last; day.setUTCDate(day.getUTCDate() + (report.by === "week" ? 7 : 1))) {
    const period = day.toISOString().slice(0, 10);
    rows.push(found[period] || {period});
  }
  return rows;
}

function drawService() {
  const {floor, grouped} = last.service;
  const rows = allPeriods(floor);
  $("empty").hidden = floor.rows.length > 0;
  const labels = rows.map(r => periodLabel(r.period));
  const column = key => rows.map(r => r[key]);
  Charts.draw($("chart-volume"), labels, [
    {name: t("answered"), values: column("answered"), stack: "offered", color: "#16a34a"},
    {name: t("abandoned"), values: column("abandoned"), stack: "offered", color: "#dc2626"},
    {name: t("overflowed"), values: column("overflowed"), stack: "offered", color: "#d97706"},
  ], {minTop: 4});
  Charts.draw($("chart-sl"), labels, [
    {name: t("service_level"), values: column("service_level"), kind: "line", color: "#2563eb"},
    {name: t("target"), values: column("service_level_target"), kind: "line", dashed: true, color: "#94a3b8"},
    {name: t("abandonment"), values: column("abandonment_rate"), kind: "line", color: "#dc2626"},
  ], {format: percent});
  Charts.draw($("chart-times"), labels, [
    {name: t("asa"), values: column("asa"), kind: "line", color: "#7c3aed"},
    {name: t("aht"), values: column("aht"), kind: "line", color: "#0891b2"},
  ], {format: seconds, minTop: 4});
  Charts.draw($("chart-abandon"), ABANDON_BUCKETS.map(([, label]) => label), [
    {name: t("abandoned"), values: ABANDON_BUCKETS.map(([key]) => rows.reduce((sum, r) => sum + (r[key] || 0), 0)),
     color: "#dc2626"},
  ], {minTop: 4});
  const table = $("service-table");
  const head = document.createElement("tr");
  head.append(...TABLE_COLUMNS.map(key => Object.assign(document.createElement("th"),
    {textContent: t({period: "period", group: "group_col", abandonment_rate: "abandonment"}[key] || key)})));
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(...grouped.rows.map(row => {
    const tr = document.createElement("tr");
    for (const key of TABLE_COLUMNS) {
      let value = row[key];
      if (key === "group" && row.name) value = row.name;
      if (["service_level", "abandonment_rate"].includes(key)) value = percent(value);
      else if (["asa", "aht"].includes(key)) value = seconds(value);
      tr.append(Object.assign(document.createElement("td"), {textContent: value ?? "–", title: key}));
    }
    return tr;
  }));
}

async function showCustomers() {
  last.customers = await (await api(`/api/reports/customers?${query($("range"))}`)).json();
  drawCustomers();
}

function drawCustomers() {
  const totals = {};
  for (const row of last.customers.rows) {
    const bucket = totals[row.dimension] ??= {};
    bucket[row.value] = (bucket[row.value] || 0) + row.calls;
  }
  const draw = (id, dimension, color) => {
    const entries = Object.entries(totals[dimension] || {}).sort((a, b) => b[1] - a[1]).slice(0, 12);
    Charts.draw($(id), entries.map(([value]) => t(value || "unknown")),
                [{name: t("calls"), values: entries.map(([, calls]) => calls), color}], {minTop: 4});
  };
  draw("chart-sources", "source", "#2563eb");
  draw("chart-regions", "region", "#16a34a");
  draw("chart-customers", "customer", "#d97706");
}

async function showForecast() {
  const form = $("forecast-form");
  const params = Object.fromEntries([...new FormData(form)].filter(([, v]) => v));
  last.forecast = await (await api(`/api/forecast?${new URLSearchParams(params)}`)).json();
  drawForecast();
}

function drawForecast() {
  const slots = last.forecast.slots;
  const labels = slots.map(s => s.start.slice(11, 16));
  Charts.draw($("chart-forecast"), labels, [
    {name: t("volume"), values: slots.map(s => s.volume), color: "#93c5fd"},
    {name: t("agents_needed"), values: slots.map(s => s.agents_needed), kind: "line", axis: "right", color: "#dc2626"},
    {name: t("logged_in"), values: slots.map(s => s.logged_in), kind: "line", axis: "right", color: "#16a34a"},
  ], {format: v => String(Math.round(v * 10) / 10), minTop: 4});
  $("forecast-note").textContent = t("forecast_note");
  const table = $("forecast-table");
  const keys = [["start", "start"], ["volume", "volume"], ["aht", "aht_col"], ["agents_needed", "agents_needed"],
                ["service_level_at_needed", "sl_at"], ["logged_in", "logged_in"]];
  const head = document.createElement("tr");
  head.append(...keys.map(([, label]) => Object.assign(document.createElement("th"), {textContent: t(label)})));
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(...slots.map(slot => {
    const tr = document.createElement("tr");
    for (const [key] of keys) {
      let value = slot[key];
      if (key === "start") value = value.slice(11, 16);
      if (key === "service_level_at_needed") value = percent(value);
      tr.append(Object.assign(document.createElement("td"), {textContent: value ?? "–"}));
    }
    return tr;
  }));
}

async function showSla() {
  last.sla = await (await api(`/api/reports/sla?${slaQuery()}`)).json();
  drawSla();
}

function drawSla() {
  const {by, rows} = last.sla;
  const label = row => by === "priority" || by === "type" ? t(row[by]) : row[by];
  Charts.draw($("chart-sla"), rows.map(label), SLA_METRICS.map(([metric, color]) => ({
    name: t(metric), color, values: rows.map(row => row[`${metric}_percent_met`] == null ? null
                                                 : row[`${metric}_percent_met`] / 100),
  })), {format: percent});
  const table = $("sla-table");
  const head = document.createElement("tr");
  const titles = [t("group_col"), t("tickets"),
    ...SLA_METRICS.flatMap(([metric]) => [`${t(metric)} ${t("met")}`, `${t(metric)} ${t("breached")}`,
                                          `${t(metric)} %`]),
    t("median_first")];
  head.append(...titles.map(text => Object.assign(document.createElement("th"), {textContent: text})));
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(...rows.map(row => {
    const cells = [label(row), row.tickets,
      ...SLA_METRICS.flatMap(([metric]) => [row[`${metric}_met`], row[`${metric}_breached`],
        row[`${metric}_percent_met`] == null ? "–" : `${row[`${metric}_percent_met`]}%`]),
      row.median_first_response_minutes ?? "–"];
    const tr = document.createElement("tr");
    tr.append(...cells.map(value => Object.assign(document.createElement("td"), {textContent: value})));
    return tr;
  }));
}

async function show() {
  const run = {service: showService, customers: showCustomers, forecast: showForecast, sla: showSla}[tab];
  try {
    $("message").textContent = "";
    await run();
  } catch (error) {
    $("message").textContent = error.message;
  }
}

async function downloadCsv() {
  const form = $("range");
  const report = {customers: "customers", sla: "sla"}[tab] || "service";
  const params = report === "sla" ? slaQuery({format: "csv"})
    : query(form, report === "service" ? {group: form.elements.group.value, format: "csv"} : {format: "csv"});
  const response = await api(`/api/reports/${report}?${params}`);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = (response.headers.get("content-disposition") || "").split('filename="')[1]?.replace('"', "") || "report.csv";
  link.click();
  URL.revokeObjectURL(link.href);
}

function redraw() {
  if (tab === "service" && last.service) drawService();
  if (tab === "customers" && last.customers) drawCustomers();
  if (tab === "forecast" && last.forecast) drawForecast();
  if (tab === "sla" && last.sla) drawSla();
}

async function start() {
  $("login").hidden = true;
  $("reports").hidden = false;
  const today = new Date();
  const weekAgo = new Date(today.getTime() - 6 * 86400000);
  const day = d => d.toLocaleDateString("sv");  // YYYY-MM-DD in the browser's zone
  $("range").elements.from.value = day(weekAgo);
  $("range").elements.to.value = day(today);
  try {
    const board = await (await api("/api/wallboard")).json();
    $("forecast-queue").replaceChildren(...Object.keys(board.queues).sort().map(name =>
      Object.assign(document.createElement("option"), {value: name, textContent: name})));
  } catch (error) {
    $("message").textContent = error.message;
    return;
  }
  show();
}

$("range").onsubmit = event => { event.preventDefault(); show(); };
$("forecast-form").onsubmit = event => { event.preventDefault(); show(); };
$("csv").onclick = () => downloadCsv().catch(error => { $("message").textContent = error.message; });
document.querySelectorAll("nav.tabs button").forEach(button => button.onclick = () => {
  tab = button.dataset.tab;
  document.querySelectorAll("nav.tabs button").forEach(b => b.setAttribute("aria-selected", b === button));
  document.querySelectorAll("[data-panel]").forEach(panel => panel.hidden = panel.dataset.panel !== tab);
  $("range").hidden = tab === "forecast";
  document.querySelectorAll(".service-only").forEach(el => el.hidden = tab !== "service");
  document.querySelectorAll(".sla-only").forEach(el => el.hidden = tab !== "sla");
  document.querySelectorAll(".calls-only").forEach(el => el.hidden = tab === "sla");
  show();
});
I18n.onChange(redraw);
bindLogin($("login"), $("message"), start);
if (sessionStorage.getItem("token")) start();
