// The bot's admin page: try the bot as a visitor (POST /api/bot/try, failed turns carried
// between turns), review the clusters of questions it could not answer (accept with an
// answer: a new KB entry; or dismiss), and keep canned responses (everyone: their own;
// with canned_responses.manage: the team's).
const CHINESE = {
  title: "智能机器人", try_title: "试聊机器人",
  try_help: "像访客一样提问。不会保存任何内容；失败轮数像真实会话一样累计，直到重新开始。",
  chat_placeholder: "像访客一样提问", lang_auto: "按消息的语言", send: "发送", reset: "重新开始",
  suggestions_title: "机器人没答上来的问题",
  suggestions_help: "访客问过的相似问题已归为一组。写好答案即可作为一个条目加入知识库（机器人立即可用），或忽略。",
  reload: "刷新", canned_title: "快捷回复", canned_search: "搜索：/快捷键 或 标题", col_shortcut: "快捷键",
  col_title: "标题", col_language: "语言", col_scope: "范围", col_body: "内容", canned_new: "新建快捷回复",
  f_shortcut: "快捷键（如 /refund）", f_title: "标题", f_body: "内容", f_language: "语言", any_language: "任意",
  f_scope: "范围", scope_personal: "个人（仅自己）", scope_team: "团队（所有人）", save: "保存", delete: "删除",
  kind_answer: "回答", kind_clarify: "澄清", kind_handoff: "转人工", kind_greeting: "问候", entry: "条目",
  confidence: "置信度", failed_turns: "失败轮数", reason: "原因", asked: "次", examples: "访客问法",
  question: "条目问题", answer: "答案（Markdown）", accept: "加入知识库", dismiss: "忽略",
  accepted: "已创建条目 #{id}", dismissed: "已忽略", none_open: "暂无待处理的问题", saved: "已保存",
  personal: "个人", team: "团队", confirm_delete: "删除这条快捷回复？",
  reason_asked_for_human: "访客要求人工", reason_low_confidence: "置信度低", reason_failed_turns: "多次未解决",
  reason_sensitive: "敏感内容", propose_title: "把好的回复变成知识库文章",
  propose_help: "客户常问的问题和解决它的回复。没有 kb.manage 权限时保存为未启用的草稿（标签 from-reply），由管理员审核。",
  f_question: "问题", f_reply: "回复（Markdown）", propose_go: "提交", proposed_draft: "已保存为草稿 #{id}，等待管理员审核",
  proposed_active: "已创建条目 #{id}，机器人立即可用",
};
const ENGLISH = {
  kind_answer: "answer", kind_clarify: "clarify", kind_handoff: "hand-off", kind_greeting: "greeting",
  entry: "entry", confidence: "confidence", failed_turns: "failed turns", reason: "reason", asked: "times",
  examples: "Visitors asked", question: "Entry question", answer: "Answer (Markdown)", accept: "Add to the knowledge base",
  dismiss: "Dismiss", accepted: "Entry #{id} created", dismissed: "Dismissed", none_open: "Nothing to review",
  saved: "Saved", personal: "personal", team: "team", confirm_delete: "Delete this canned response?",
  reason_asked_for_human: "the visitor asked for a person", reason_low_confidence: "low confidence",
  reason_failed_turns: "too many failed turns", reason_sensitive: "sensitive content",
  proposed_draft: "Saved as draft #{id}, waiting for an admin's review",
  proposed_active: "Entry #{id} created; the bot answers with it now",
};
I18n.init(CHINESE, ENGLISH);

const $ = id => document.getElementById(id);
const t = key => I18n.t(key);
const el = make;  // common.js's element builder
let failedTurns = 0;
let me = null;
let pickedCanned = null;

function refusal(error) {
  try {
    return JSON.parse(error.message).map(d => `${d.loc.slice(1).join(" / ")}: ${d.msg}`).join("\n");
  } catch (_) { return `${error.status ?? ""} ${error.message}`; }
}

// ---- try the bot --------------------------------------------------------------------

async function send(text, entryId = null) {
  const log = $("chat-log");
  log.append(el("div", {className: "msg visitor", textContent: text}));
  const body = {text, failed_turns: failedTurns};
  if (entryId !== null) body.entry_id = entryId;
  if ($("chat-lang").value) body.language = $("chat-lang").value;
  const reply = await (await api("/api/bot/try", {method: "POST", body})).json();
  failedTurns = reply.failed_turns;
  const meta = [t(`kind_${reply.kind}`)];
  if (reply.entry_id) meta.push(`${t("entry")} #${reply.entry_id}`);
  if (reply.confidence !== null) meta.push(`${t("confidence")} ${reply.confidence.toFixed(2)}`);
  meta.push(`${t("failed_turns")} ${reply.failed_turns}`);
  if (reply.handoff_reason) meta.push(`${t("reason")}: ${t(`reason_${reply.handoff_reason}`)}`);
  const bubble = el("div", {className: `msg bot ${reply.kind}`},
    el("span", {className: "meta", textContent: meta.join(" · ")}),
    el("span", {className: "text", textContent: reply.text}));
  bubble.dataset.kind = reply.kind;
  if (reply.suggestions.length) {
    bubble.append(el("div", {}, ...reply.suggestions.map(s => {
      const b = el("button", {type: "button", className: "pick", textContent: s.question});
      b.onclick = () => send(s.question, s.entry_id).catch(showChatError);
      return b;
    })));
  }
  log.append(bubble);
  log.scrollTop = log.scrollHeight;
}

function showChatError(error) {
  $("chat-log").append(el("p", {className: "error", textContent: refusal(error)}));
}

// ---- suggestions --------------------------------------------------------------------

async function loadSuggestions() {
  const items = await (await api("/api/bot/suggestions")).json();
  const list = $("suggestion-list");
  if (!items.length) { list.replaceChildren(el("p", {className: "muted", textContent: t("none_open")})); return; }
  list.replaceChildren(...items.map(s => {
    const question = el("input", {name: "question", value: s.representative, maxLength: 500});
    const answer = el("textarea", {name: "answer", required: true});
    const error = el("p", {className: "error"});
    const accept = el("button", {className: "primary accept", type: "button", textContent: t("accept")});
    const dismiss = el("button", {className: "dismiss", type: "button", textContent: t("dismiss")});
    const box = el("div", {className: "suggestion"},
      el("strong", {className: "representative", textContent: s.representative}), " ",
      el("span", {className: "count", textContent: `${s.count} ${t("asked")}`}),
      el("span", {className: "muted", textContent: ` · ${s.language}`}),
      el("div", {className: "muted", textContent: t("examples")}),
      el("ul", {}, ...s.examples.map(x => el("li", {textContent: x}))),
      el("label", {}, el("span", {textContent: t("question") + " "}), question),
      el("label", {}, el("div", {textContent: t("answer")}), answer),
      error, accept, " ", dismiss);
    box.dataset.id = s.id;
    accept.onclick = async () => {
      try {
        const r = await api(`/api/bot/suggestions/${s.id}/accept`, {method: "POST",
          body: {question: question.value.trim() || null, answer: answer.value}});
        const made = await r.json();
        $("suggestion-result").className = "ok";
        $("suggestion-result").textContent = t("accepted").replace("{id}", made.entry.id);
        await loadSuggestions();
      } catch (e) { error.textContent = refusal(e); }
    };
    dismiss.onclick = async () => {
      try {
        await api(`/api/bot/suggestions/${s.id}/dismiss`, {method: "POST"});
        $("suggestion-result").className = "ok";
        $("suggestion-result").textContent = t("dismissed");
        await loadSuggestions();
      } catch (e) { error.textContent = refusal(e); }
    };
    return box;
  }));
}

// ---- canned responses ----------------------------------------------------------------

const canManageTeam = () => me.permissions.includes("canned_responses.manage");
const mayChange = c => c === null || c.scope === "personal" || canManageTeam();

async function loadCanned() {
  const q = $("canned-q").value.trim();
  const items = await (await api(`/api/canned-responses${q ? `?q=${encodeURIComponent(q)}` : ""}`)).json();
  $("canned-table").tBodies[0].replaceChildren(...items.map(c => {
    const row = el("tr", {className: pickedCanned?.id === c.id ? "picked" : ""},
      el("td", {textContent: c.shortcut}), el("td", {textContent: c.title}),
      el("td", {textContent: c.language ?? ""}), el("td", {textContent: t(c.scope)}),
      el("td", {textContent: c.body}));
    row.dataset.id = c.id;
    row.onclick = () => editCanned(c);
    return row;
  }));
}

function editCanned(item) {
  pickedCanned = item;
  const form = $("canned-form");
  const f = form.elements;
  form.hidden = false;
  f.shortcut.value = item?.shortcut ?? "/";
  f.title.value = item?.title ?? "";
  f.body.value = item?.body ?? "";
  f.language.value = item?.language ?? "";
  f.scope.value = item?.scope ?? "personal";
  f.scope.disabled = item !== null;  // the scope is chosen once
  f.scope.querySelector("option[value=team]").disabled = !canManageTeam();
  const writable = mayChange(item);
  for (const name of ["shortcut", "title", "body", "language"]) f[name].disabled = !writable;
  $("canned-save").hidden = !writable;
  $("canned-delete").hidden = !item || !writable;
  $("canned-error").textContent = $("canned-saved").textContent = "";
}

async function saveCanned(event) {
  event.preventDefault();
  const f = $("canned-form").elements;
  const body = {shortcut: f.shortcut.value, title: f.title.value, body: f.body.value,
                language: f.language.value || null};
  try {
    const r = pickedCanned
      ? await api(`/api/canned-responses/${pickedCanned.id}`, {method: "PATCH", body})
      : await api("/api/canned-responses", {method: "POST", body: {...body, scope: f.scope.value}});
    const stored = await r.json();
    pickedCanned = stored;
    await loadCanned();
    editCanned(stored);
    $("canned-saved").textContent = t("saved");
  } catch (error) { $("canned-error").textContent = refusal(error); }
}

async function deleteCanned() {
  if (!pickedCanned || !confirm(t("confirm_delete"))) return;
  await api(`/api/canned-responses/${pickedCanned.id}`, {method: "DELETE"});
  pickedCanned = null;
  $("canned-form").hidden = true;
  await loadCanned();
}

// ---- a good reply as an article ---------------------------------------------------------

async function propose(event) {
  event.preventDefault();
  const form = $("propose-form");
  const out = $("propose-result");
  try {
    const r = await api("/api/kb/from-reply", {method: "POST", body: {
      question: form.elements.question.value.trim(), answer: form.elements.answer.value}});
    const entry = await r.json();
    out.className = "ok";
    out.textContent = t(entry.active ? "proposed_active" : "proposed_draft").replace("{id}", entry.id);
    form.reset();
  } catch (error) { out.className = "error"; out.textContent = refusal(error); }
}

async function start() {
  try {
    me = await (await api("/api/auth/me")).json();
  } catch (error) {
    if (error.status === 401) sessionStorage.removeItem("token");
    return;
  }
  const canManage = me.permissions.includes("kb.manage");
  $("login").hidden = true;
  $("bot").hidden = false;
  document.querySelectorAll(".manage").forEach(node => { node.hidden = !canManage; });
  const canRead = canManage || me.permissions.includes("kb.read");
  document.querySelectorAll(".reader").forEach(node => { node.hidden = !canRead; });
  $("propose-form").onsubmit = propose;
  $("chat-form").onsubmit = event => {
    event.preventDefault();
    const text = $("chat-text").value.trim();
    $("chat-text").value = "";
    if (text) send(text).catch(showChatError);
  };
  $("chat-reset").onclick = () => { failedTurns = 0; $("chat-log").replaceChildren(); };
  $("suggestions-reload").onclick = () => loadSuggestions();
  $("canned-q").oninput = () => loadCanned();
  $("canned-new").onclick = () => editCanned(null);
  $("canned-form").onsubmit = saveCanned;
  $("canned-delete").onclick = deleteCanned;
  if (canManage) await loadSuggestions();
  await loadCanned();
}

bindLogin($("login"), $("message"), start);
if (sessionStorage.getItem("token")) start().catch(() => {});
