// The transcripts search page: words said in calls (English or Chinese), results that
// open the call's whole transcript with its recording. Agents find their own calls.
"use strict";

I18n.init({
  title: "通话转写", q_placeholder: "通话中说过的词（中文或英文）", from: "开始日期", to: "结束日期",
  all_agents: "全部坐席", search: "搜索", time: "时间", call: "通话", speaker: "说话人", said: "内容",
  call_transcript: "通话转写", no_lines: "本通话没有转写内容。", wallboard: "监控大屏",
  quality: "质检", speaker_caller: "客户", speaker_agent: "坐席", results: "找到 {n} 条",
  none_found: "没有找到",
}, {speaker_caller: "Caller", speaker_agent: "Agent", results: "{n} found", none_found: "Nothing found"});
const t = I18n.t;
const $ = id => document.getElementById(id);
const locale = () => (I18n.lang === "zh" ? "zh-CN" : "en");
let lastItems = null;

// A date box's day as an instant: its start (from) or the next day's start (to), local time.
function dayBound(value, next) {
  if (!value) return null;
  const day = new Date(value + "T00:00:00");
  if (next) day.setDate(day.getDate() + 1);
  return day.toISOString();
}

async function search() {
  const query = new URLSearchParams({q: $("q").value, limit: "100"});
  const from = dayBound($("from").value, false), to = dayBound($("to").value, true);
  if (from) query.set("from", from);
  if (to) query.set("to", to);
  if ($("agent").value) query.set("agent_id", $("agent").value);
  try {
    lastItems = (await (await api(`/api/transcripts/search?${query}`)).json()).items;
    $("message").textContent = "";
    renderResults();
  } catch (error) {
    $("message").textContent = error.message;
  }
}

function renderResults() {
  if (!lastItems) return;
  $("results").hidden = lastItems.length === 0;
  $("count").textContent = lastItems.length ? t("results").replace("{n}", lastItems.length) : t("none_found");
  $("results").tBodies[0].replaceChildren(...lastItems.map(item => {
    const tr = document.createElement("tr");
    tr.dataset.call = item.call_id;
    const when = new Date(item.spoken_at).toLocaleString(locale());
    const link = Object.assign(document.createElement("a"), {href: `#call=${item.call_id}`, textContent: `#${item.call_id}`});
    const said = document.createElement("td");
    said.className = "snippet";
    said.append(...TranscriptLines.marked(item.snippet, item.marks));
    const cells = [when, link, t("speaker_" + item.speaker)].map(value => {
      const td = document.createElement("td");
      td.append(value);
      return td;
    });
    tr.append(...cells, said);
    return tr;
  }));
}

// While a call goes on, its new lines come over /ws/events as they are recognised.
let following = null;
function follow(callId) {
  if (following) following.close();
  following = !callId ? null : openEvents(event => {
    if (event.type === "call.transcript" && event.data.call_id === callId) {
      TranscriptLines.place($("lines"), event.data.segment, t);
      $("no-lines").hidden = true;
    }
  }, "call.transcript");
}

async function showCall(callId) {
  $("call").hidden = !callId;
  follow(null);
  if (!callId) return;
  $("call-id").textContent = `#${callId}`;
  try {
    const [call, transcript] = await Promise.all([
      api(`/api/calls/${callId}`).then(r => r.json()),
      api(`/api/calls/${callId}/transcript`).then(r => r.json()),
    ]);
    $("call-info").textContent = ` ${call.caller_number || "—"} · ${new Date(call.started_at).toLocaleString(locale())}`;
    $("player").hidden = !call.recording_url;
    if (call.recording_url) {
      // The recording needs the token: fetched, then played from memory.
      const blob = await (await api(call.recording_url)).blob();
      $("player").src = URL.createObjectURL(blob);
    }
    $("lines").replaceChildren();
    if (call.state !== "ended") follow(callId);  // before the lines: none falls between
    transcript.segments.forEach(segment => TranscriptLines.place($("lines"), segment, t));
    $("no-lines").hidden = transcript.segments.length > 0;
    $("call").scrollIntoView({block: "nearest"});
  } catch (error) {
    $("message").textContent = error.message;
  }
}

function fromHash() {
  const match = location.hash.match(/call=(\d+)/);
  showCall(match ? Number(match[1]) : null);
}

async function loadAgents() {
  try {
    const agents = await (await api("/api/agents")).json();
    $("agent").replaceChildren($("agent").options[0], ...agents.map(agent =>
      Object.assign(document.createElement("option"), {value: agent.user_id, textContent: agent.display_name || agent.username})));
    $("agent").hidden = false;
  } catch (_) {
    $("agent").hidden = true;  // an agent searches their own calls only
  }
}

$("search").onsubmit = event => { event.preventDefault(); search(); };
window.addEventListener("hashchange", fromHash);
I18n.onChange(() => { renderResults(); fromHash(); });

async function start() {
  $("login").hidden = true;
  $("page").hidden = false;
  await loadAgents();
  fromHash();
}
bindLogin($("login"), $("message"), start);
if (sessionStorage.getItem("token")) start();
