// Transcript lines as the pages show them: speaker, time on the call, text with the
// sensitive words (`highlights`, character spans) marked. Used by the search page and
// by the agent desktop's live panel.
"use strict";

const TranscriptLines = {
  // "1:05" from seconds on the call's timeline.
  clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  },
  // Text with [start, end) spans wrapped in <mark class=...>, built as nodes (never HTML).
  marked(text, spans, className = "") {
    const parts = [];
    let at = 0;
    for (const [start, end] of [...spans].sort((a, b) => a[0] - b[0])) {
      if (start < at) continue;
      if (start > at) parts.push(document.createTextNode(text.slice(at, start)));
      const mark = document.createElement("mark");
      if (className) mark.className = className;
      mark.textContent = text.slice(start, end);
      parts.push(mark);
      at = end;
    }
    if (at < text.length) parts.push(document.createTextNode(text.slice(at)));
    return parts;
  },
  // One <li> for a segment; lines are kept in time order by `data-start`.
  item(segment, t) {
    const li = document.createElement("li");
    li.className = segment.speaker;
    li.dataset.id = segment.id;
    li.dataset.start = segment.start;
    const at = Object.assign(document.createElement("span"), {className: "at", textContent: this.clock(segment.start)});
    const who = Object.assign(document.createElement("span"), {className: "who", textContent: t("speaker_" + segment.speaker)});
    const said = document.createElement("span");
    said.className = "text";
    said.append(...this.marked(segment.text, segment.highlights || [], "sensitive"));
    li.append(at, who, said);
    return li;
  },
  // Add (or replace) a segment's line in `list`, in the order spoken.
  place(list, segment, t) {
    const li = this.item(segment, t);
    const old = list.querySelector(`li[data-id="${segment.id}"]`);
    if (old) { old.replaceWith(li); return li; }
    const after = [...list.children].find(other => Number(other.dataset.start) > segment.start);
    list.insertBefore(li, after || null);
    return li;
  },
};

// The agent desktop's live panel: the call's lines as they are recognised, kept through
// wrap-up; `show(callId)` follows a call (null hides the panel).
class TranscriptPanel {
  constructor({section, list, t}) {
    this.section = section;
    this.list = list;
    this.t = t;
    this.callId = null;
    this.socket = null;
  }
  show(callId) {
    if (callId === this.callId) return;
    this.callId = callId || null;
    this.list.replaceChildren();
    this.section.hidden = !this.callId;
    if (!this.callId) return;
    this.listen();
    const asked = this.callId;
    // What was said before this desktop followed the call (a reload, a transfer).
    api(`/api/calls/${asked}/transcript`).then(r => r.json()).then(body => {
      if (asked === this.callId) body.segments.forEach(segment => this.add(segment));
    }).catch(() => {});
  }
  listen() {
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) return;
    this.socket = openEvents(event => {
      if (event.type === "call.transcript" && event.data.call_id === this.callId) {
        this.add(event.data.segment);
      }
    }, "call.transcript");
    this.socket.onclose = () => { this.socket = null; if (this.callId) setTimeout(() => this.listen(), 1000); };
  }
  add(segment) {
    const li = TranscriptLines.place(this.list, segment, this.t);
    li.scrollIntoView({block: "nearest"});
  }
}
