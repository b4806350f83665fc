// Quality review (质检): reviewers pick a recorded call, listen, score it on a scorecard
// and follow each agent's trend; agents see (and acknowledge) the reviews of their calls.
"use strict";

I18n.init({
  title: "质检", to_review: "待质检通话", from: "从", to: "到", all_agents: "全部坐席",
  unreviewed: "仅未质检", show: "查询", time: "时间", agent: "坐席", caller: "主叫号码", queue: "队列",
  talk: "通话时长", reviews: "质检记录", newer: "‹ 较新", older: "较早 ›", review_call: "质检通话",
  transcript: "通话文本", no_transcript: "本通话没有转写内容。",
  speaker_caller: "客户", speaker_agent: "坐席", scorecard: "评分表",
  no_scorecard: "还没有启用的评分表：请先创建（见 docs/quality.md）。", criterion: "评分项",
  weight: "权重", points: "得分", comment: "评语", overall: "总体评语", score: "得分",
  critical_failed: "关键项为 0 分：本次质检不合格", submit: "提交质检", agents: "坐席",
  average: "平均分", online: "在线时长", handled: "接听量", aht: "平均处理时长", rating: "满意度",
  quality_of: "质检概况：", trend: "每周平均分", review: "质检", saved: "已保存",
  acknowledge: "确认已阅", acknowledged: "已确认", play: "播放录音", critical: "关键项",
  reviewed_by: "质检员", no_reviews: "暂无质检记录", no_rating: "满意度调查尚未上线",
  page: "第 {page} 页，共 {total} 通", max: "满分",
}, {
  review: "Review", saved: "Saved", acknowledge: "Acknowledge", acknowledged: "Acknowledged",
  play: "Play recording", critical: "critical", reviewed_by: "Reviewed by",
  no_reviews: "No reviews yet", no_rating: "no satisfaction surveys yet",
  page: "page {page}, {total} calls", max: "max", speaker_caller: "Caller", speaker_agent: "Agent",
});
const t = I18n.t;
const PAGE = 20;

const state = {me: null, reviewer: false, offset: 0, total: 0, calls: [], cards: [],
               call: null, agentId: null, summary: null, reviews: []};

const el = id => document.getElementById(id);
const fmtSeconds = s => {
  if (s === null || s === undefined) return "–";
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
  return h ? `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}` : `${m}:${String(r).padStart(2, "0")}`;
};
const fmtScore = v => v === null || v === undefined ? "–" : v.toFixed(1);
const fmtTime = iso => new Date(iso).toLocaleString(I18n.lang === "zh" ? "zh-CN" : "en",
  {month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"});
const label = labels => (labels && (labels[I18n.lang] || labels.en || labels.zh)) || "";
const period = () => {
  const query = new URLSearchParams();
  if (el("from").value) query.set("from", el("from").value);
  if (el("to").value) query.set("to", el("to").value);
  return query;
};
const json = async (path, options) => (await api(path, options)).json();

// The score as the server computes it (docs/quality.md): a weighted percentage, and a
// zero on a critical criterion fails the review.
function scoreOf(criteria, points) {
  if (criteria.some(c => c.critical && points[c.key] === 0)) return {score: 0, failed: true};
  const total = criteria.reduce((sum, c) => sum + c.weight, 0);
  const got = criteria.reduce((sum, c) => sum + c.weight * points[c.key] / c.max_points, 0);
  return {score: Math.round(got / total * 1000) / 10, failed: false};
}

// <audio> cannot send the bearer token: fetch the recording, play it from a blob URL.
async function play(player, url) {
  if (player.src.startsWith("blob:")) URL.revokeObjectURL(player.src);
  player.removeAttribute("src");
  const blob = await (await api(url)).blob();
  player.src = URL.createObjectURL(blob);
  player.hidden = false;
}

// ---- reviewers: the calls to review -------------------------------------------------

async function loadCalls() {
  const query = period();
  if (el("agent-filter").value) query.set("agent_id", el("agent-filter").value);
  if (el("unreviewed").checked) query.set("unreviewed", "true");
  query.set("limit", PAGE);
  query.set("offset", state.offset);
  const page = await json(`/api/quality/queue?${query}`);
  state.calls = page.items;
  state.total = page.total;
  renderCalls();
}

function renderCalls() {
  el("calls").tBodies[0].replaceChildren(...state.calls.map(call => {
    const tr = make("tr");
    tr.dataset.call = call.id;
    if (state.call && state.call.id === call.id) tr.className = "picked";
    const pick = make("button", {textContent: t("review")});
    pick.onclick = () => pickCall(call);
    tr.append(make("td", {textContent: fmtTime(call.started_at)}),
              make("td", {textContent: call.agent_name}),
              make("td", {textContent: call.caller_number}),
              make("td", {textContent: call.queue || ""}),
              make("td", {className: "num", textContent: fmtSeconds(call.talk_seconds)}),
              make("td", {className: "num", textContent: call.reviews}), make("td", {}, pick));
    return tr;
  }));
  const pageNumber = Math.floor(state.offset / PAGE) + 1;
  el("page-info").textContent = t("page").replace("{page}", pageNumber).replace("{total}", state.total);
  el("newer").disabled = state.offset === 0;
  el("older").disabled = state.offset + PAGE >= state.total;
}

async function pickCall(call) {
  state.call = call;
  renderCalls();
  el("review").hidden = false;
  el("review-call").textContent = `#${call.id} · ${call.agent_name} · ${fmtTime(call.started_at)}`;
  el("review-message").textContent = "";
  el("overall").value = "";
  renderCriteria();
  await Promise.all([play(el("player"), call.recording_url), showAgent(call.agent_id),
                     showTranscript(call.id)]);
}

// What was said, from speech-to-text (docs/transcripts.md), with the sensitive words marked.
async function showTranscript(callId) {
  const list = el("transcript-lines");
  list.replaceChildren();
  el("no-transcript").hidden = false;
  const segments = (await (await api(`/api/calls/${callId}/transcript`)).json()).segments;
  if (state.call && state.call.id !== callId) return;  // another call was picked meanwhile
  segments.forEach(segment => TranscriptLines.place(list, segment, t));
  el("no-transcript").hidden = segments.length > 0;
}

// ---- reviewers: the scorecard form ----------------------------------------------------

async function loadScorecards() {
  state.cards = await json("/api/quality/scorecards?active=true");
  const select = el("scorecard");
  const chosen = select.value;
  select.replaceChildren(...state.cards.map(card =>
    make("option", {value: card.id, textContent: `${label(card.labels) || card.name} (v${card.version})`})));
  if (chosen) select.value = chosen;
  el("no-scorecard").hidden = state.cards.length > 0;
  el("score-form").hidden = state.cards.length === 0;
  renderCriteria();
}

const currentCard = () => state.cards.find(card => String(card.id) === el("scorecard").value);

// Drawn again for a language switch: what was typed stays (keep), else full points.
function renderCriteria(keep = false) {
  const card = currentCard();
  if (!card) return;
  const typed = {};
  if (keep) document.querySelectorAll("#criteria input").forEach(input => typed[input.name] = input.value);
  el("criteria").tBodies[0].replaceChildren(...card.criteria.map(c => {
    const points = make("input", {type: "number", name: `points-${c.key}`, min: 0, max: c.max_points,
                                  step: 1, value: typed[`points-${c.key}`] ?? c.max_points, required: true});
    points.oninput = preview;
    const name = make("td", {textContent: label(c.label) || c.key});
    if (c.critical) name.append(" ", make("span", {className: "critical", textContent: t("critical")}));
    const tr = make("tr", {}, name, make("td", {className: "num", textContent: c.weight}),
      make("td", {}, points, ` / ${c.max_points}`),
      make("td", {}, make("input", {type: "text", name: `comment-${c.key}`, maxLength: 2000,
                                    value: typed[`comment-${c.key}`] ?? ""})));
    tr.dataset.key = c.key;
    return tr;
  }));
  preview();
}

function givenPoints(card) {
  const points = {};
  for (const c of card.criteria) {
    points[c.key] = Number(document.querySelector(`#criteria [name="points-${c.key}"]`).value);
  }
  return points;
}

function preview() {
  const card = currentCard();
  if (!card) return;
  const {score, failed} = scoreOf(card.criteria, givenPoints(card));
  el("score-preview").textContent = fmtScore(score);
  el("critical-note").hidden = !failed;
}

async function submitReview(event) {
  event.preventDefault();
  const card = currentCard();
  const points = givenPoints(card);
  const items = card.criteria.map(c => ({key: c.key, points: points[c.key],
    comment: document.querySelector(`#criteria [name="comment-${c.key}"]`).value}));
  const body = {call_id: state.call.id, scorecard_id: card.id, items, comment: el("overall").value};
  const message = el("review-message");
  try {
    const review = await json("/api/quality/reviews", {method: "POST", body});
    message.textContent = `${t("saved")}: ${fmtScore(review.score)}`;
  } catch (error) {
    message.textContent = error.message;
    return;
  }
  await Promise.all([loadCalls(), loadAgents(), showAgent(state.call.agent_id)]);
}

// ---- reviewers: every agent ------------------------------------------------------------

async function loadAgents() {
  const summaries = await json(`/api/quality/agents?${period()}`);
  if (summaries.length && !el("from").value) {
    el("from").value = summaries[0].from;
    el("to").value = summaries[0].to;
  }
  el("agents").tBodies[0].replaceChildren(...summaries.map(s => {
    const tr = make("tr");
    tr.dataset.agent = s.agent.id;
    const name = make("a", {href: "#", textContent: s.agent.name});
    name.onclick = event => { event.preventDefault(); showAgent(s.agent.id); };
    tr.append(make("td", {}, name), make("td", {className: "num", textContent: s.reviews}),
              make("td", {className: "num", textContent: fmtScore(s.average_score)}),
              make("td", {className: "num", textContent: fmtSeconds(s.online_seconds)}),
              make("td", {className: "num", textContent: s.handled}),
              make("td", {className: "num", textContent: fmtSeconds(s.average_handle_seconds)}),
              make("td", {className: "num", textContent: s.rating ?? "–", title: t("no_rating")}));
    return tr;
  }));
  const filter = el("agent-filter");
  const chosen = filter.value;
  filter.replaceChildren(filter.options[0], ...summaries.map(s =>
    make("option", {value: s.agent.id, textContent: s.agent.name})));
  filter.value = chosen;
}

// ---- one agent: figures, trend, reviews ----------------------------------------------------

async function showAgent(agentId) {
  state.agentId = agentId;
  const query = period();
  state.summary = await json(`/api/quality/agents/${agentId}/summary?${query}`);
  query.set("agent_id", agentId);
  query.set("limit", 50);
  state.reviews = (await json(`/api/quality/reviews?${query}`)).items;
  renderAgent();
}

function renderAgent() {
  const s = state.summary;
  if (!s) return;
  el("detail").hidden = false;
  el("detail-name").textContent = s.agent.name;
  el("detail-period").textContent = `${s.from} – ${s.to} (${s.time_zone})`;
  const tile = (key, text) => document.querySelector(`#detail [data-k="${key}"] .v`).textContent = text;
  tile("reviews", s.reviews);
  tile("average", fmtScore(s.average_score));
  tile("online", fmtSeconds(s.online_seconds));
  tile("handled", s.handled);
  tile("aht", fmtSeconds(s.average_handle_seconds));
  tile("rating", s.rating ?? "–");
  document.querySelector('#detail [data-k="rating"]').title = t("no_rating");
  drawTrend(el("trend"), s.trend);
  renderReviews();
}

// The weekly average score (0–100) as a line, with the week's reviews in each tooltip.
function drawTrend(container, trend) {
  Charts.draw(container, trend.map(week => week.week.slice(5)), [
    {name: t("trend"), values: trend.map(week => week.average), kind: "line"},
  ], {max: 100, format: v => fmtScore(v)});
}

function renderReviews() {
  const list = el("reviews");
  if (!state.reviews.length) {
    list.replaceChildren(make("li", {className: "muted", textContent: t("no_reviews")}));
    return;
  }
  list.replaceChildren(...state.reviews.map(review => {
    const li = make("li");
    li.dataset.review = review.id;
    const score = make("span", {className: `score${review.critical_failed ? " failed" : ""}`,
                                textContent: fmtScore(review.score)});
    const head = make("p", {}, score, ` · ${fmtTime(review.call.started_at)} · ${review.call.caller_number || ""}`,
      ` · ${label(review.scorecard.labels) || review.scorecard.name} v${review.scorecard.version}`,
      ` · ${t("reviewed_by")} ${review.reviewer.name}`);
    if (review.critical_failed) head.append(" ", make("span", {className: "critical", textContent: t("critical_failed")}));
    const rows = review.criteria.map(c => make("tr", {},
      make("td", {textContent: label(c.label) || c.key}),
      make("td", {className: "num", textContent: `${c.points} / ${c.max_points}`}),
      make("td", {textContent: c.comment || ""})));
    li.append(head, make("table", {}, make("tbody", {}, ...rows)));
    if (review.comment) li.append(make("p", {className: "comment", textContent: review.comment}));
    const actions = make("p");
    if (review.call.recording_url) {
      const button = make("button", {textContent: t("play")});
      button.onclick = () => play(el("my-player"), review.call.recording_url);
      actions.append(button, " ");
    }
    if (review.acknowledged_at) {
      actions.append(make("span", {className: "acknowledged", textContent: `✓ ${t("acknowledged")}`}));
    } else if (state.me && review.agent.id === state.me.id) {
      const button = make("button", {className: "acknowledge", textContent: t("acknowledge")});
      button.onclick = async () => {
        await api(`/api/quality/reviews/${review.id}/acknowledge`, {method: "POST"});
        await showAgent(state.agentId);
      };
      actions.append(button);
    }
    li.append(actions);
    return li;
  }));
}

// ---- start ----------------------------------------------------------------------------

async function start() {
  try {
    state.me = await json("/api/auth/me");
  } catch (error) {
    sessionStorage.removeItem("token");
    el("message").textContent = I18n.t("failed");
    return;
  }
  state.reviewer = state.me.permissions.includes("quality.review");
  el("login").hidden = true;
  el("quality").hidden = false;
  el("reviewer").hidden = !state.reviewer;
  if (state.reviewer) {
    await loadAgents();
    await Promise.all([loadScorecards(), loadCalls()]);
  } else {
    await showAgent(state.me.id);  // an agent: their own reviews and figures only
  }
}

el("filters").onsubmit = async event => {
  event.preventDefault();
  state.offset = 0;
  await Promise.all([loadCalls(), loadAgents()]);
  if (state.agentId !== null) await showAgent(state.agentId);
};
el("newer").onclick = () => { state.offset = Math.max(0, state.offset - PAGE); loadCalls(); };
el("older").onclick = () => { state.offset += PAGE; loadCalls(); };
el("scorecard").onchange = () => renderCriteria();
el("score-form").onsubmit = submitReview;
I18n.onChange(() => {
  if (!state.me) return;
  if (state.reviewer) { renderCalls(); renderCriteria(true); }
  renderAgent();
});
bindLogin(el("login"), el("message"), start);
if (sessionStorage.getItem("token")) start();
