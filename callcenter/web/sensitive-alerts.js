// Sensitive-word alerts (敏感词告警) for supervisors: the wallboard's live panel and the
// alerts tab of sensitive-words.html. A classic script after common.js (I18n, api,
// openEvents). Alerts come from GET /api/sensitive-alerts, then live from /ws/events
// (`sensitive.alert` carries the alert; `sensitive.acknowledged` its acknowledgement).
"use strict";

const SensitiveAlerts = (() => {
  const TEXTS = {
    heading: ["Sensitive-word alerts", "敏感词告警"], ack: ["Acknowledge", "确认"],
    acked: ["acknowledged by", "已确认："], none: ["No alerts", "暂无告警"],
    call: ["call", "通话"], chat: ["chat", "会话"], warn: ["warning", "警告"],
    critical: ["critical", "严重"], agent: ["agent", "坐席"], no_agent: ["no agent", "无坐席"],
  };
  const tx = key => (TEXTS[key] || [key, key])[I18n.lang === "zh" ? 1 : 0];
  // Where a call's alerts are read in full; the call's transcript page may take its place.
  // A call's alert opens its transcript (live while the call goes on); a chat's, its alerts.
  const callLink = alert => alert.source === "call"
    ? `/transcripts.html#call=${encodeURIComponent(alert.source_id)}`
    : `/sensitive-words.html#call=${encodeURIComponent(alert.source_id)}`;
  const fmtTime = iso => new Date(iso).toLocaleString(I18n.lang === "zh" ? "zh-CN" : "en",
    {month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit"});

  // The excerpt with the phrase as it was said marked (offsets from the server).
  function excerpt(alert) {
    const text = alert.excerpt;
    return make("span", {className: "excerpt"}, text.slice(0, alert.match_start),
                make("mark", {textContent: text.slice(alert.match_start, alert.match_end)}),
                text.slice(alert.match_end));
  }

  function item(alert, onAck) {
    const li = make("li", {className: `sensitive-alert ${alert.severity}`});
    li.dataset.id = alert.id;
    const who = alert.agent ? `${tx("agent")} ${alert.agent}` : tx("no_agent");
    li.append(
      make("strong", {className: "phrase", textContent: alert.phrase}), " ",
      make("span", {className: "severity", textContent: tx(alert.severity)}), " ",
      excerpt(alert),
      make("small", {className: "meta"}, ` — ${who}, ${fmtTime(alert.created_at)}, `,
           make("a", {href: callLink(alert), textContent: `${tx(alert.source)} ${alert.source_id}`})));
    if (alert.acknowledged_at) {
      li.append(make("small", {className: "acked",
                               textContent: ` · ${tx("acked")} ${alert.acknowledged_by_name || ""}`}));
    } else {
      const button = make("button", {className: "ack", textContent: tx("ack")});
      button.onclick = async () => {
        button.disabled = true;
        try {
          onAck(await (await api(`/api/sensitive-alerts/${alert.id}/ack`, {method: "POST"})).json());
        } catch (error) {
          button.disabled = false;
          button.title = error.message;
        }
      };
      li.append(" ", button);
    }
    return li;
  }

  // Show alerts in `section` (which gets a heading and a list) and keep them current.
  // `openOnly`: acknowledged ones leave the list (the wallboard: what still needs someone);
  // `callId`: only that call's. Resolves false (section left hidden) without monitor.listen.
  async function mount(section, {openOnly = false, callId = null, limit = 50} = {}) {
    const query = new URLSearchParams({limit: String(limit)});
    if (openOnly) query.set("acknowledged", "false");
    if (callId) query.set("source_id", callId);
    let alerts;
    try {
      alerts = await (await api(`/api/sensitive-alerts?${query}`)).json();
    } catch (error) {
      if (error.status === 403) return false;
      throw error;
    }
    const heading = make("h2", {textContent: tx("heading")});
    const list = make("ul", {className: "sensitive-alerts"});
    section.replaceChildren(heading, list);
    section.hidden = false;
    const changed = alert => {
      const at = alerts.findIndex(a => a.id === alert.id);
      if (at >= 0) alerts[at] = alert;
      render();
    };
    function render() {
      heading.textContent = tx("heading");
      const shown = alerts.filter(a => !(openOnly && a.acknowledged_at)).slice(0, limit);
      list.replaceChildren(...(shown.length ? shown.map(a => item(a, changed))
                                            : [make("li", {className: "none", textContent: tx("none")})]));
    }
    render();
    I18n.onChange(render);
    const connect = () => {
      const ws = openEvents(async event => {
        if (event.type === "sensitive.alert" && event.data.alert) {
          const alert = event.data.alert;
          if (callId && alert.source_id !== callId) return;
          if (!alerts.some(a => a.id === alert.id)) alerts.unshift(alert);
          render();
        } else if (event.type === "sensitive.acknowledged") {
          if (alerts.some(a => a.id === event.data.alert_id)) {
            changed(await (await api(`/api/sensitive-alerts/${event.data.alert_id}`)).json());
          }
        }
      }, "sensitive.");
      ws.onclose = () => setTimeout(connect, 2000);
    };
    connect();
    return true;
  }

  return {mount, excerpt};
})();
