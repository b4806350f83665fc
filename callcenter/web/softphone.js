// The agent's WebRTC phone line: one peer connection to the controller, kept open while
// the desktop is, so answering a call is instant. Signaling and the call buttons travel
// over /ws/softphone (messages: docs/api.md).
"use strict";

const CONNECTION_REFUSED = "softphone connection refused";

class Softphone {
  constructor({audio, onMessage, onState}) {
    this.audio = audio;            // <audio> element the caller is heard through
    this.onMessage = onMessage;    // offered, withdrawn, connected, ended, error
    this.onState = onState;        // "connecting", "ready", "closed", "failed"
    this.ws = null;
    this.pc = null;
    this.microphone = null;
    this.analyser = null;
    this.closing = false;          // closed on purpose: the page does not reconnect
  }

  async connect() {
    this.onState("connecting");
    try {
      this.microphone = await navigator.mediaDevices.getUserMedia({audio: true});
      this.pc = new RTCPeerConnection();
      this.microphone.getTracks().forEach(track => this.pc.addTrack(track, this.microphone));
      this.pc.ontrack = event => this._hear(event.streams[0] || new MediaStream([event.track]));
      await this.pc.setLocalDescription(await this.pc.createOffer());
      await this._gathered();
      this.ws = await this._open();
      this._send({type: "offer", sdp: this.pc.localDescription.sdp});
    } catch (error) {
      this.onState("failed", error.message);
    }
  }

  // The controller takes the offer whole (no trickle): wait until ICE is gathered.
  _gathered() {
    if (this.pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise(resolve => {
      const done = () => { if (this.pc.iceGatheringState === "complete") resolve(); };
      this.pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, 3000);  // what was gathered by then is enough on a LAN
    });
  }

  _open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws/softphone`,
                             ["callcenter", "bearer." + sessionStorage.getItem("token")]);
    ws.onmessage = event => this._received(JSON.parse(event.data));
    ws.onclose = () => this.onState("closed");
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error(CONNECTION_REFUSED));
    });
  }

  async _received(message) {
    if (message.type === "answer") {
      await this.pc.setRemoteDescription({type: "answer", sdp: message.sdp});
    } else if (message.type === "ready") {
      this.onState("ready");
    } else {
      this.onMessage(message);
    }
  }

  _hear(stream) {
    this.audio.srcObject = stream;
    this.audio.play().catch(() => {});  // autoplay may wait for a click; audio still flows
    const context = new AudioContext();
    this.analyser = context.createAnalyser();
    this.analyser.fftSize = 2048;
    context.createMediaStreamSource(stream).connect(this.analyser);
  }

  // The loudest frequency heard right now (Hz), or 0 in silence: the tests' ear.
  dominantFrequency() {
    if (!this.analyser) return 0;
    const bins = new Float32Array(this.analyser.frequencyBinCount);
    this.analyser.getFloatFrequencyData(bins);
    let best = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    if (bins[best] < -70) return 0;
    return best * this.analyser.context.sampleRate / this.analyser.fftSize;
  }

  _send(message) { this.ws.send(JSON.stringify(message)); }
  accept(taskId) { this._send({type: "accept", task_id: taskId}); }
  decline(taskId) { this._send({type: "decline", task_id: taskId}); }
  hangup() { this._send({type: "hangup"}); }
  conference(target) { this._send({type: "conference", ...target}); }
  consult(target) { this._send({type: "consult", ...target}); }
  finishConsult(transfer) { this._send({type: transfer ? "complete_transfer" : "cancel_consult"}); }
  transfer(target) { this._send({type: "transfer", ...target}); }
  dial(target) { this._send({type: "dial", ...target}); }
  dtmf(digits) { this._send({type: "dtmf", digits}); }
  hold(on) { this._send({type: on ? "hold" : "unhold"}); }
  pauseRecording(paused) { this._send({type: paused ? "pause_recording" : "resume_recording"}); }
  mute(muted) { this.microphone.getAudioTracks().forEach(track => track.enabled = !muted); }

  close() {
    this.closing = true;
    if (this.ws) this.ws.close();
    if (this.pc) this.pc.close();
    if (this.microphone) this.microphone.getTracks().forEach(track => track.stop());
  }
}
