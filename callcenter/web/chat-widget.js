// The web chat widget: one tag on any page (docs/chat.md)
//   <script src="https://support.example.com/chat-widget.js" data-site="shop" data-lang="zh"></script>
// Optional: data-server (default: where this script came from), data-title, and a signed
// identity set by the host page before the tag: window.CallcenterChatIdentity =
// {id, name, email, ts, sig}. Everything lives in a shadow root: the page's CSS cannot
// reach in and ours cannot leak out. Messages are numbered by the server (seq): after a
// cut the widget reconnects with backoff and asks for what came after the last it has.
(() => {
  "use strict";
  const script = document.currentScript;
  if (!script || window.__callcenterChat) return;
  window.__callcenterChat = true;
  const site = script.dataset.site || "default";
  const server = (script.dataset.server || new URL(script.src, location.href).origin).replace(/\/$/, "");
  const lang = script.dataset.lang === "zh" || (!script.dataset.lang && navigator.language.startsWith("zh")) ? "zh" : "en";
  const TEXT = {
    en: {title: "Chat with us", placeholder: "Type a message…", send: "Send", attach: "Attach a file",
         waiting: "Waiting for an agent…", typing: "is typing…", joined: "joined the chat",
         transferred: "The chat is being transferred…", ended_by_agent: "The agent ended the chat",
         ended_by_visitor: "You ended the chat", ended_by_system: "The chat has ended",
         offline_title: "We are away. Leave a message and we will get back to you.",
         name: "Your name", email: "E-mail", message: "Message", leave: "Leave a message",
         offline_saved: "Thank you, we received your message.", rate: "How did we do?",
         comment: "Anything to add? (optional)", submit: "Submit", rated: "Thank you for your feedback!",
         reconnecting: "Reconnecting…", close: "Close", end: "End chat", agent: "Agent", new_chat: "New chat",
         file_too_large: "The file is too large", file_refused: "This file type is not accepted",
         bot: "Assistant", person: "Talk to a person", ask_person: "agent"},
    zh: {title: "在线客服", placeholder: "请输入消息…", send: "发送", attach: "发送文件",
         waiting: "正在为您转接客服…", typing: "正在输入…", joined: "已加入会话",
         transferred: "正在为您转接…", ended_by_agent: "客服已结束会话",
         ended_by_visitor: "您已结束会话", ended_by_system: "会话已结束",
         offline_title: "客服暂时不在线，请留言，我们会尽快回复您。",
         name: "您的姓名", email: "电子邮箱", message: "留言内容", leave: "提交留言",
         offline_saved: "谢谢，我们已收到您的留言。", rate: "请为本次服务评分",
         comment: "还有什么想说的？（选填）", submit: "提交", rated: "感谢您的评价！",
         reconnecting: "正在重新连接…", close: "关闭", end: "结束会话", agent: "客服", new_chat: "新会话",
         file_too_large: "文件过大", file_refused: "不支持该文件类型",
         bot: "智能助手", person: "转人工", ask_person: "转人工"},
  }[lang];
  const store = {
    get: key => localStorage.getItem(`cc-chat:${site}:${key}`),
    set: (key, value) => value == null ? localStorage.removeItem(`cc-chat:${site}:${key}`)
                                       : localStorage.setItem(`cc-chat:${site}:${key}`, String(value)),
  };

  // ---- the page's source, for the agent (referrer, landing page, search keywords, UTM) --
  function pageSource() {
    const url = new URL(location.href);
    const utm = {};
    url.searchParams.forEach((v, k) => { if (k.startsWith("utm_")) utm[k] = v; });
    let search = url.searchParams.get("q") || url.searchParams.get("s") || "";
    try {
      const ref = new URL(document.referrer);
      search = search || ref.searchParams.get("q") || ref.searchParams.get("wd") || ref.searchParams.get("query") || "";
    } catch (_) { /* no referrer */ }
    return {url: location.href, referrer: document.referrer, search, utm, title: document.title};
  }

  // ---- the DOM, in a shadow root -----------------------------------------------------
  const host = document.createElement("div");
  host.id = "callcenter-chat";
  const root = host.attachShadow({mode: "open"});
  root.innerHTML = `
  <style>
    :host { all: initial; }
    * { box-sizing: border-box; font-family: system-ui, "PingFang SC", "Microsoft YaHei", sans-serif; font-size: 14px; }
    .launcher { position: fixed; right: 20px; bottom: 20px; width: 56px; height: 56px; border-radius: 50%;
      border: none; background: #1f6feb; color: #fff; font-size: 26px; cursor: pointer; box-shadow: 0 4px 12px #0004; z-index: 2147483000; }
    .panel { position: fixed; right: 20px; bottom: 88px; width: 340px; height: 480px; max-height: calc(100vh - 110px);
      background: #fff; color: #222; border-radius: 10px; box-shadow: 0 8px 28px #0005; display: none; flex-direction: column;
      overflow: hidden; z-index: 2147483000; }
    .panel.open { display: flex; }
    header { background: #1f6feb; color: #fff; padding: 10px 12px; display: flex; align-items: center; gap: 8px; }
    header b { flex: 1; font-size: 15px; }
    header button { background: transparent; color: #fff; border: 1px solid #fff8; border-radius: 4px; cursor: pointer; padding: 2px 6px; }
    .status { padding: 4px 12px; font-size: 12px; color: #555; background: #f3f6fa; min-height: 22px; }
    .log { flex: 1; overflow-y: auto; padding: 10px; display: flex; flex-direction: column; gap: 6px; }
    .m { max-width: 80%; padding: 7px 10px; border-radius: 10px; white-space: pre-wrap; word-wrap: break-word; }
    .m.visitor { align-self: flex-end; background: #1f6feb; color: #fff; }
    .m.visitor.pending { opacity: .6; }
    .m.agent, .m.bot { align-self: flex-start; background: #eef1f5; }
    .m.bot { background: #fff7e0; border-left: 3px solid #f5a623; }
    .suggest { display: flex; flex-direction: column; gap: 4px; margin-top: 6px; }
    .suggest button { text-align: left; background: #fff; color: #1f6feb; border: 1px solid #1f6feb; border-radius: 6px; padding: 4px 8px; cursor: pointer; }
    .person { align-self: center; margin: 0 10px 4px; background: #fff; color: #1f6feb; border: 1px solid #1f6feb; border-radius: 14px; padding: 3px 12px; cursor: pointer; font-size: 12px; }
    .m .who { display: block; font-size: 11px; color: #667; margin-bottom: 2px; }
    .m.system { align-self: center; background: none; color: #778; font-size: 12px; }
    .m a { color: inherit; }
    form { display: flex; gap: 6px; padding: 8px; border-top: 1px solid #e3e6ea; }
    form.stack { flex-direction: column; border: none; }
    input, textarea { flex: 1; padding: 7px; border: 1px solid #c8ccd2; border-radius: 6px; color: #222; background: #fff; }
    textarea { resize: vertical; min-height: 60px; }
    button.primary { background: #1f6feb; color: #fff; border: none; border-radius: 6px; padding: 7px 12px; cursor: pointer; }
    .clip { background: none; border: none; cursor: pointer; font-size: 18px; }
    .stars button { font-size: 24px; background: none; border: none; cursor: pointer; color: #bbb; }
    .stars button.on { color: #f5a623; }
    .hidden { display: none !important; }
    .note { padding: 10px 12px; color: #333; }
  </style>
  <button class="launcher" part="launcher" aria-label="${TEXT.title}">💬</button>
  <div class="panel" role="dialog" aria-label="${TEXT.title}">
    <header><b>${script.dataset.title || TEXT.title}</b>
      <button class="end hidden" type="button">${TEXT.end}</button>
      <button class="close" type="button" aria-label="${TEXT.close}">×</button></header>
    <div class="status"></div>
    <div class="log" aria-live="polite"></div>
    <div class="offline hidden"><p class="note">${TEXT.offline_title}</p>
      <form class="stack offline-form">
        <input name="name" placeholder="${TEXT.name}" maxlength="200">
        <input name="email" type="email" placeholder="${TEXT.email}" maxlength="255">
        <textarea name="body" placeholder="${TEXT.message}" maxlength="4000" required></textarea>
        <button class="primary">${TEXT.leave}</button></form></div>
    <div class="csat hidden"><p class="note">${TEXT.rate}</p>
      <form class="stack csat-form"><div class="stars">${[1, 2, 3, 4, 5].map(n =>
        `<button type="button" data-score="${n}" aria-label="${n}">★</button>`).join("")}</div>
        <textarea name="comment" placeholder="${TEXT.comment}" maxlength="2000"></textarea>
        <button class="primary">${TEXT.submit}</button></form></div>
    <button class="person hidden" type="button">${TEXT.person}</button>
    <form class="compose">
      <button class="clip" type="button" title="${TEXT.attach}">📎</button>
      <input type="file" class="hidden">
      <input name="body" placeholder="${TEXT.placeholder}" maxlength="4000" autocomplete="off">
      <button class="primary">${TEXT.send}</button></form>
  </div>`;
  const $ = selector => root.querySelector(selector);
  const panel = $(".panel"), log = $(".log"), status = $(".status"), compose = $(".compose");
  const input = compose.elements.body;

  // ---- conversation state ------------------------------------------------------------
  let ws = null, welcomed = false, online = true, state = null, score = 0, botOn = false;
  let lastSeq = 0;  // the highest seq shown; what a reconnect asks after
  let conversationId = Number(store.get("conversation")) || null;
  const pending = new Map();  // client id -> {body, file_id, element}: sent, not acked yet
  let attempt = 0, retryTimer = null, typingSent = 0, typingTimer = null;

  function setStatus(text) { status.textContent = text || ""; }
  function showState() {
    const ended = state === "ended";
    $(".end").classList.toggle("hidden", !(state === "bot" || state === "queued" || state === "active"));
    $(".csat").classList.toggle("hidden", !(ended && score === 0));
    // With the bot, the visitor chats with it even when nobody is in: the message form
    // comes when the bot hands over to nobody.
    const offline = !online && state !== "ended" && (botOn ? state === "queued" : !conversationId);
    $(".person").classList.toggle("hidden", !botOn || !(state === "bot" || state === null) || offline);
    $(".offline").classList.toggle("hidden", !offline);
    compose.classList.toggle("hidden", offline || (ended && score === 0));
    if (state === "queued") setStatus(TEXT.waiting);
    else if (state === "active" || ended) setStatus("");
  }

  function bubble(frame, {pendingId} = {}) {
    const div = document.createElement("div");
    div.className = `m ${frame.sender}`;
    if (frame.sender === "system") {
      div.textContent = frame.body === "joined" ? `${frame.name || TEXT.agent} ${TEXT.joined}` : (TEXT[frame.body] || frame.body);
    } else {
      if (frame.sender === "agent" || frame.sender === "bot") {
        const who = frame.sender === "bot" ? TEXT.bot : (frame.name || TEXT.agent);
        div.append(Object.assign(document.createElement("span"), {className: "who", textContent: who}));
      }
      if (frame.file) {
        const link = Object.assign(document.createElement("a"), {
          textContent: `📄 ${frame.file.filename}`, target: "_blank", rel: "noopener",
          href: `${server}/api/chat/files/${frame.file.id}?token=${encodeURIComponent(store.get("token") || "")}`,
        });
        div.append(link);
        if (frame.body) div.append(document.createElement("br"));
      }
      div.append(document.createTextNode(frame.body || ""));
      const offered = frame.sender === "bot" && frame.meta && frame.meta.suggestions;
      if (offered && offered.length) {  // "did you mean" buttons: the bot answers that entry
        const box = Object.assign(document.createElement("div"), {className: "suggest"});
        for (const s of offered) {
          const b = Object.assign(document.createElement("button"), {type: "button", textContent: s.question});
          b.dataset.entry = s.entry_id;
          b.onclick = () => { if (state === "bot") sendMessage(s.question, null, {type: "choose", entry_id: s.entry_id}); };
          box.append(b);
        }
        div.append(box);
      }
    }
    if (frame.seq) div.dataset.seq = frame.seq;
    if (pendingId) { div.classList.add("pending"); div.dataset.client = pendingId; }
    log.append(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }

  function onMessage(frame) {
    if (frame.seq <= lastSeq) return;  // shown already: a resend never doubles a line
    lastSeq = frame.seq;
    bubble(frame);
  }

  function send(frame) {
    if (ws && ws.readyState === WebSocket.OPEN && welcomed) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function sendMessage(body, fileId, choice) {
    const clientId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const frame = choice ? {...choice, client_id: clientId} : {type: "message", body, client_id: clientId};
    if (fileId) frame.file_id = fileId.id;
    const element = bubble({sender: "visitor", body, file: fileId || null}, {pendingId: clientId});
    pending.set(clientId, {frame, element});
    send(frame);  // else sent again after the next welcome
  }

  // ---- the socket ----------------------------------------------------------------------
  function connect() {
    clearTimeout(retryTimer);
    welcomed = false;
    const url = server.replace(/^http/, "ws") + "/ws/chat";
    ws = new WebSocket(url);
    ws.onopen = () => {
      const hello = {type: "hello", site, token: store.get("token") || undefined, page: pageSource(),
                     last_seq: lastSeq, conversation_id: conversationId || undefined};
      if (window.CallcenterChatIdentity) hello.identity = window.CallcenterChatIdentity;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = event => handle(JSON.parse(event.data));
    ws.onclose = () => {
      welcomed = false;
      if (closedForGood) return;
      setStatus(TEXT.reconnecting);
      // Exponential backoff with jitter: 0.5 s, 1 s, 2 s … up to 15 s.
      const delay = Math.min(15000, 500 * 2 ** attempt) * (0.75 + Math.random() / 2);
      attempt += 1;
      retryTimer = setTimeout(connect, delay);
    };
  }
  let closedForGood = false;

  function handle(frame) {
    switch (frame.type) {
      case "welcome": {
        attempt = 0;
        welcomed = true;
        store.set("token", frame.token);
        online = frame.online;
        botOn = !!frame.bot;
        const conv = frame.conversation;
        if (!conv || conv.id !== conversationId) {
          // Another conversation than the one shown (or none): start the log afresh.
          if (conversationId && (!conv || conv.id !== conversationId)) { log.replaceChildren(); lastSeq = 0; }
          conversationId = conv ? conv.id : null;
          store.set("conversation", conversationId);
        }
        state = conv ? conv.state : null;
        score = conv && conv.csat_score ? conv.csat_score : 0;
        showState();
        if (state !== "queued" && state !== "active") setStatus("");
        for (const {frame: message} of pending.values()) ws.send(JSON.stringify(message));
        break;
      }
      case "ack": {
        const sent = pending.get(frame.client_id);
        pending.delete(frame.client_id);
        if (!conversationId) { conversationId = frame.conversation_id; store.set("conversation", conversationId); state = botOn ? "bot" : "queued"; showState(); }
        if (sent) { sent.element.classList.remove("pending"); sent.element.dataset.seq = frame.seq; }
        // Messages before this one not shown yet arrive as msg frames first (the server
        // orders them); this one is shown already.
        if (frame.seq > lastSeq) lastSeq = frame.seq;
        break;
      }
      case "msg": onMessage(frame); break;
      case "typing": {
        setStatus(frame.on ? `${frame.name || TEXT.agent} ${TEXT.typing}` : "");
        clearTimeout(typingTimer);
        if (frame.on) typingTimer = setTimeout(() => setStatus(""), 4000);
        break;
      }
      case "state": {
        state = frame.state;
        if (frame.online !== undefined) online = frame.online;
        showState();
        break;
      }
      case "offline_saved": {
        $(".offline").classList.add("hidden");
        bubble({sender: "system", body: TEXT.offline_saved});
        break;
      }
      case "csat_saved": {
        $(".csat").classList.add("hidden");
        bubble({sender: "system", body: TEXT.rated});
        conversationId = null; store.set("conversation", null); lastSeq = 0;
        state = null; score = 0; showState();
        compose.classList.remove("hidden");
        break;
      }
      case "error": {
        if (frame.code === "identity_refused" || frame.code === "bad_hello") { closedForGood = true; setStatus(frame.message); }
        else setStatus(frame.message);
        if (frame.client_id && pending.has(frame.client_id)) {
          pending.get(frame.client_id).element.remove();
          pending.delete(frame.client_id);
        }
        break;
      }
    }
  }

  // ---- user actions --------------------------------------------------------------------
  $(".launcher").onclick = () => {
    panel.classList.toggle("open");
    if (panel.classList.contains("open")) { if (!ws) connect(); input.focus(); }
  };
  $(".close").onclick = () => panel.classList.remove("open");
  $(".end").onclick = () => send({type: "end"});
  $(".person").onclick = () => sendMessage(TEXT.ask_person);
  compose.onsubmit = event => {
    event.preventDefault();
    const body = input.value.trim();
    if (!body) return;
    input.value = "";
    sendMessage(body);
    send({type: "typing", on: false});
    typingSent = 0;
  };
  input.oninput = () => {
    const now = Date.now();
    if (now - typingSent > 2000 && input.value) { typingSent = now; send({type: "typing", on: true}); }
  };
  const picker = compose.querySelector("input[type=file]");
  $(".clip").onclick = () => picker.click();
  picker.onchange = async () => {
    const file = picker.files[0];
    picker.value = "";
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    const r = await fetch(`${server}/api/chat/files`, {method: "POST", body: form,
                                                        headers: {"X-Chat-Token": store.get("token") || ""}});
    if (!r.ok) { setStatus(r.status === 413 ? TEXT.file_too_large : TEXT.file_refused); return; }
    sendMessage("", await r.json());
  };
  const offlineForm = $(".offline-form");
  offlineForm.onsubmit = event => {
    event.preventDefault();
    const data = new FormData(offlineForm);
    send({type: "offline", name: data.get("name"), email: data.get("email"), body: data.get("body")});
    offlineForm.reset();
  };
  const stars = [...root.querySelectorAll(".stars button")];
  let chosen = 0;
  stars.forEach(star => star.onclick = () => {
    chosen = Number(star.dataset.score);
    stars.forEach(s => s.classList.toggle("on", Number(s.dataset.score) <= chosen));
  });
  const csatForm = $(".csat-form");
  csatForm.onsubmit = event => {
    event.preventDefault();
    if (!chosen) return;
    send({type: "csat", score: chosen, comment: csatForm.elements.comment.value});
  };

  document.body.append(host);
  if (conversationId) connect();  // a chat going on: back to it at once, with what was missed
  window.CallcenterChat = {open: () => { panel.classList.add("open"); if (!ws) connect(); },
                           socket: () => ws};
})();
