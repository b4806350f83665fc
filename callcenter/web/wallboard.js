// The wallboard: tiles from /ws/wallboard (a snapshot, then updates with the changed
// tiles), running times ticked here every second, and the supervisor's actions.
"use strict";

I18n.init({
  title: "监控大屏", transcripts_link: "通话转写", connecting: "连接中…", live: "实时", down: "已断开，重连中…", big_screen: "大屏模式",
  waiting: "排队", longest: "最长等待", service_level: "服务水平", asa: "平均应答", aht: "平均处理时长",
  abandonment: "放弃率", m_offered: "呼入", answered: "接通", abandoned: "放弃", overflowed: "溢出",
  callbacks: "待回拨", agents_ready: "空闲坐席", queues: "队列", queue: "队列", agents: "坐席",
  agent: "坐席", teams: "班组", state: "状态", in_state: "状态时长", handled: "已处理",
  talk: "通话时长", occupancy: "占用率", rating: "满意度", my_phone: "我的分机（用于监听）",
  staffed: "坐席：空闲 · 忙 · 小休", busy: "忙",
  offline: "离线", available: "空闲", offered: "振铃中", on_call: "通话中", wrap_up: "话后整理",
  break: "小休", listen: "监听", whisper: "耳语", barge: "强插", takeover: "拦截", hangup: "强拆",
  make_available: "示闲", make_break: "置忙", logout: "签出", done: "已执行",
  forbidden: "监控大屏仅供班长和管理员使用（需要报表权限）",
  announcements: "公告", announce: "发布公告", announce_placeholder: "通知坐席…", team_placeholder: "班组（全部）",
}, {
  offline: "Offline", available: "Available", offered: "Ringing", on_call: "On a call",
  wrap_up: "Wrap-up", break: "Break", listen: "Listen", whisper: "Whisper", barge: "Barge in",
  takeover: "Take over", hangup: "Hang up", make_available: "Available", make_break: "Break",
  logout: "Log out", done: "Done",
  forbidden: "The wallboard is for supervisors and admins (it needs reports.read)",
  live: "live", down: "disconnected, reconnecting…", busy: "Busy",
});
const t = I18n.t;

const board = {queues: {}, agents: {}, totals: {}, day: "", at: 0};
let skew = 0;  // server clock minus ours, so running times match the server's

const fmtSeconds = s => {
  if (s === null || s === undefined) return "–";
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
  return h ? `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}` : `${m}:${String(r).padStart(2, "0")}`;
};
const fmtPercent = v => v === null || v === undefined ? "–" : `${Math.round(v * 1000) / 10}%`;
const now = () => Date.now() / 1000 + skew;

// Thresholds (docs/supervisor-guide.md): colors say at a glance where to look.
function slClass(value, target) {
  if (value === null || value === undefined) return "";
  return value >= target ? "good" : value >= target - 0.1 ? "warn" : "bad";
}
function waitClass(seconds, threshold) {
  if (seconds === null) return "";
  return seconds <= threshold ? "good" : seconds <= 2 * threshold ? "warn" : "bad";
}
function abandonClass(rate) {
  if (rate === null || rate === undefined) return "";
  return rate <= 0.05 ? "good" : rate <= 0.10 ? "warn" : "bad";
}
const STATE_LIMITS = {break: [900, 1800], wrap_up: [120, 300], on_call: [900, 1800]};
function stateClass(state, seconds) {
  const limits = STATE_LIMITS[state];
  if (!limits || seconds === null) return "";
  return seconds > limits[1] ? "bad" : seconds > limits[0] ? "warn" : "";
}
const waited = since => since === null || since === undefined ? null : now() - since;

function setTile(key, text, cls = "") {
  const tile = document.querySelector(`#totals [data-k="${key}"]`);
  tile.querySelector(".v").textContent = text;
  tile.className = `tile ${cls}`;
}

function cell(text, cls = "", key = "") {
  const td = document.createElement("td");
  td.textContent = text;
  td.className = cls;
  if (key) td.dataset.k = key;
  return td;
}

function renderTotals() {
  const total = board.totals;
  if (!total.agents) return;
  const longest = waited(total.oldest_since);
  setTile("waiting", total.waiting, total.waiting ? "warn" : "");
  setTile("longest", fmtSeconds(longest), waitClass(longest, total.sl_seconds));
  setTile("service_level", fmtPercent(total.service_level), slClass(total.service_level, total.sl_target));
  setTile("asa", fmtSeconds(total.asa));
  setTile("aht", fmtSeconds(total.aht));
  setTile("abandonment_rate", fmtPercent(total.abandonment_rate), abandonClass(total.abandonment_rate));
  setTile("offered", total.offered);
  setTile("answered", total.answered);
  setTile("callbacks", total.callbacks, total.callbacks ? "warn" : "");
  setTile("agents", total.agents.available, total.agents.available ? "good" : "warn");
  document.getElementById("day").textContent = board.day;
}

function renderQueues() {
  const body = document.querySelector("#queues tbody");
  body.replaceChildren(...Object.entries(board.queues).sort().map(([name, q]) => {
    const tr = document.createElement("tr");
    tr.dataset.queue = name;
    const longest = waited(q.oldest_since);
    const a = q.agents;
    const staffed = cell("", "", "agents");
    for (const [kind, count, label] of [["available", a.available, t("available")],
        ["busy", a.offered + a.on_call + a.wrap_up, t("busy")], ["break", a.break, t("break")]]) {
      staffed.append(Object.assign(document.createElement("span"),
                                   {className: `ag ${kind}`, textContent: count, title: label}));
    }
    tr.append(
      cell(name), cell(q.waiting, "num", "waiting"),
      cell(fmtSeconds(longest), `num ${waitClass(longest, q.sl_seconds)}`, "longest"),
      cell(fmtPercent(q.service_level), `num ${slClass(q.service_level, q.sl_target)}`, "service_level"),
      cell(fmtSeconds(q.asa), "num", "asa"), cell(fmtSeconds(q.aht), "num", "aht"),
      cell(q.offered, "num", "offered"), cell(q.answered, "num", "answered"),
      cell(q.abandoned, "num", "abandoned"),
      cell(fmtPercent(q.abandonment_rate), `num ${abandonClass(q.abandonment_rate)}`, "abandonment_rate"),
      cell(q.overflowed, "num", "overflowed"), cell(q.callbacks, "num", "callbacks"),
      staffed);
    return tr;
  }));
}

function renderAgents() {
  const body = document.querySelector("#agents tbody");
  const rows = Object.entries(board.agents).sort((x, y) => x[1].name.localeCompare(y[1].name));
  body.replaceChildren(...rows.map(([id, a]) => {
    const tr = document.createElement("tr");
    tr.dataset.agent = id;
    const figures = agentFigures(a);
    const state = document.createElement("span");
    state.className = `state ${a.state}`;
    state.textContent = t(a.state) + (a.reason ? ` (${a.reason})` : "");
    const stateCell = cell("", "", "state");
    stateCell.append(state);
    tr.append(
      cell(a.name), cell(a.teams.join(", ")), stateCell,
      cell(fmtSeconds(figures.inState), `num ${figures.stateClass}`, "in_state"),
      cell(a.handled, "num", "handled"), cell(fmtSeconds(a.talk), "num", "talk"),
      cell(fmtSeconds(a.aht), "num", "aht"), cell(fmtPercent(figures.occupancy), "num", "occupancy"),
      cell(a.rating === null ? "–" : a.rating, "num", "rating"), actions(id, a));
    return tr;
  }));
}

// Time in state and occupancy: the server's sums up to the state's start, plus its run.
function agentFigures(a) {
  const inState = a.since ? now() - a.since : null;
  const running = inState === null ? 0 : Math.max(0, now() - Math.max(a.since, board.day_start || 0));
  const busy = a.busy_before + (["offered", "on_call", "wrap_up"].includes(a.state) ? running : 0);
  const ready = a.available_before + (a.state === "available" ? running : 0);
  return {inState, stateClass: stateClass(a.state, inState),
          occupancy: busy + ready > 0 ? busy / (busy + ready) : null};
}

function actions(id, agent) {
  const td = document.createElement("td");
  td.className = "acts";
  const button = (key, run) => {
    const b = document.createElement("button");
    b.textContent = t(key);
    b.dataset.action = key;
    b.onclick = () => act(run);
    td.append(b);
  };
  if (["on_call"].includes(agent.state)) {
    for (const mode of ["listen", "whisper", "barge", "takeover"]) button(mode, () => monitor(id, mode));
    button("hangup", () => api(`/api/supervise/agents/${id}/hangup`, {method: "POST"}));
  }
  if (agent.state !== "available" && ["break", "wrap_up"].includes(agent.state)) {
    button("make_available", () => setState(id, "available"));
  }
  if (agent.state === "available") button("make_break", () => setState(id, "break", "supervisor"));
  if (agent.state !== "offline" && !["on_call", "offered"].includes(agent.state)) {
    button("logout", () => setState(id, "offline"));
  }
  return td;
}

const setState = (id, state, reason = "") =>
  api(`/api/supervise/agents/${id}/state`, {method: "PUT", body: {state, reason}});

function monitor(id, mode) {
  const extension = document.getElementById("my-phone").value.trim();
  localStorage.setItem("supervisor-phone", extension);
  return api(`/api/supervise/agents/${id}/monitor`, {method: "POST", body: {mode, extension}});
}

async function act(run) {
  const message = document.getElementById("action-message");
  try {
    await run();
    message.textContent = t("done");
  } catch (error) {
    message.textContent = error.message;
  }
}

// Every second: the times that run on their own, in place (rows stay, so a button being
// clicked is never replaced under the pointer).
function tick() {
  renderTotals();
  for (const tr of document.querySelectorAll("#queues tbody tr")) {
    const q = board.queues[tr.dataset.queue];
    const longest = waited(q.oldest_since);
    const td = tr.querySelector('[data-k="longest"]');
    td.textContent = fmtSeconds(longest);
    td.className = `num ${waitClass(longest, q.sl_seconds)}`;
  }
  for (const tr of document.querySelectorAll("#agents tbody tr")) {
    const figures = agentFigures(board.agents[tr.dataset.agent]);
    const inState = tr.querySelector('[data-k="in_state"]');
    inState.textContent = fmtSeconds(figures.inState);
    inState.className = `num ${figures.stateClass}`;
    tr.querySelector('[data-k="occupancy"]').textContent = fmtPercent(figures.occupancy);
  }
}

function render() {
  renderTotals();
  renderQueues();
  renderAgents();
}

function onMessage(message) {
  skew = message.at - Date.now() / 1000;
  board.at = message.at;
  board.day = message.day;
  board.day_start = message.day_start;
  if (message.type === "snapshot") {
    board.queues = message.queues;
    board.agents = message.agents;
  } else {
    Object.assign(board.queues, message.queues);
    Object.assign(board.agents, message.agents);
  }
  if (message.totals) board.totals = message.totals;
  render();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/wallboard`,
                           ["callcenter", "bearer." + sessionStorage.getItem("token")]);
  const live = document.getElementById("live");
  ws.onopen = () => { live.textContent = t("live"); live.className = ""; };
  ws.onmessage = event => onMessage(JSON.parse(event.data));
  ws.onclose = async () => {
    live.textContent = t("down");
    live.className = "down";
    // A refused handshake looks like any lost connection here: ask the API why.
    try {
      await api("/api/wallboard");
    } catch (error) {
      if (error.status === 401 || error.status === 403) {
        document.getElementById("board").hidden = true;
        document.getElementById("login").hidden = false;
        document.getElementById("message").textContent =
          error.status === 403 ? t("forbidden") : I18n.t("failed");
        return;
      }
    }
    setTimeout(connect, 2000);
  };
}

const announcements = document.getElementById("announcements");
const showAnnouncements = () => loadAnnouncements(announcements, async id => {
  await act(() => api(`/api/announcements/${id}`, {method: "DELETE"}));
  showAnnouncements();
});
document.getElementById("announce").onsubmit = async event => {
  event.preventDefault();
  const text = document.getElementById("announce-text");
  const team = document.getElementById("announce-team").value.trim();
  await act(() => api("/api/announcements", {method: "POST", body: {text: text.value, team: team || null}}));
  text.value = "";
  showAnnouncements();
};

function start() {
  document.getElementById("login").hidden = true;
  document.getElementById("board").hidden = false;
  document.getElementById("my-phone").value = localStorage.getItem("supervisor-phone") || "";
  connect();
  showAnnouncements();
  SensitiveAlerts.mount(document.getElementById("sensitive"), {openOnly: true}).catch(() => {});
  setInterval(tick, 1000);
}

document.getElementById("big").onclick = () => {
  document.body.classList.toggle("big");
  if (document.body.classList.contains("big") && document.documentElement.requestFullscreen) {
    document.documentElement.requestFullscreen().catch(() => {});
  }
};
I18n.onChange(render);
if (new URLSearchParams(location.search).has("big")) document.body.classList.add("big");
bindLogin(document.getElementById("login"), document.getElementById("message"), start);
if (sessionStorage.getItem("token")) start();
