// Small SVG charts for the report pages: bars (stacked or not), lines, and both in one.
// No library: a few hundred bytes of markup per chart, drawn from plain numbers, and
// every mark has a <title> so a hover (or a screen reader) tells the exact value.
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2563eb", "#dc2626", "#d97706", "#16a34a", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];
  const W = 480, H = 220, LEFT = 40, RIGHT = 36, TOP = 12, BOTTOM = 30, FONT = 11, BAR_MAX = 36;

  function el(name, attrs = {}, text) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    return [1, 2, 4, 5, 10].map(step => step * power).find(top => top >= value);
  }

  // Grid lines that fall on round values: 4 or 5 steps (or 2), whichever divides the top.
  const steps = top => [4, 5, 2].find(n => Number.isInteger(top / n)) ?? 4;

  // labels: x labels; series: [{name, values, kind: "bar" | "line", stack, axis: "right"}]
  // Bars of one `stack` pile up; lines may use a right-hand axis (e.g. a percentage).
  // max: a fixed top for the left axis (a score out of 100), else one that fits the data
  // and is at least minTop (4 for counts, so an empty chart still has whole-number lines).
  function draw(container, labels, series,
                {format = String, formatRight = String, title = "", max, minTop = 1} = {}) {
    const svg = el("svg", {viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart"});
    if (title) svg.append(el("title", {}, title));
    const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
    const slot = plotW / Math.max(1, labels.length);
    const bars = series.filter(s => s.kind !== "line");
    const stacks = [...new Set(bars.map(s => s.stack ?? s.name))];
    const stackTotal = i => Math.max(0, ...stacks.map(stack =>
      bars.filter(s => (s.stack ?? s.name) === stack).reduce((sum, s) => sum + (s.values[i] || 0), 0)));
    const leftSeries = series.filter(s => s.axis !== "right");
    const leftMax = max ?? niceMax(Math.max(minTop, ...labels.map((_, i) => stackTotal(i)),
      ...leftSeries.filter(s => s.kind === "line").flatMap(s => s.values.filter(v => v != null))));
    const rightMax = niceMax(Math.max(0, ...series.filter(s => s.axis === "right")
      .flatMap(s => s.values.filter(v => v != null))));
    const y = (value, max) => TOP + plotH - (value / max) * plotH;

    const lines = steps(leftMax);
    for (let k = 0; k <= lines; k++) {  // grid and the axes
      const value = (leftMax * k) / lines, yy = y(value, leftMax);
      svg.append(el("line", {x1: LEFT, x2: W - RIGHT, y1: yy, y2: yy, stroke: "#e5e7eb"}));
      svg.append(el("text", {x: LEFT - 4, y: yy + 4, "text-anchor": "end", "font-size": FONT}, format(value)));
      if (series.some(s => s.axis === "right")) {
        svg.append(el("text", {x: W - RIGHT + 3, y: yy + 4, "font-size": FONT}, formatRight((rightMax * k) / lines)));
      }
    }
    const every = Math.ceil(labels.length / 12);  // at most a dozen x labels
    labels.forEach((label, i) => {
      if (i % every) return;
      svg.append(el("text", {x: LEFT + slot * (i + 0.5), y: H - BOTTOM + 16, "text-anchor": "middle",
                             "font-size": FONT}, label));
    });
    const barW = Math.min(BAR_MAX, Math.max(1, (slot * 0.8) / stacks.length));
    const barsLeft = i => LEFT + slot * (i + 0.5) - (barW * stacks.length) / 2;  // centred
    labels.forEach((label, i) => {
      stacks.forEach((stack, n) => {
        let base = 0;
        for (const s of bars.filter(b => (b.stack ?? b.name) === stack)) {
          const value = s.values[i] || 0;
          if (!value) continue;
          const top = y(base + value, leftMax), height = y(base, leftMax) - top;
          const rect = el("rect", {x: barsLeft(i) + barW * n, y: top, width: barW,
                                   height, fill: s.color, "data-series": s.name});
          rect.append(el("title", {}, `${label} · ${s.name}: ${format(value)}`));
          svg.append(rect);
          base += value;
        }
      });
    });
    for (const s of series.filter(s => s.kind === "line")) {
      const max = s.axis === "right" ? rightMax : leftMax;
      const points = s.values.map((v, i) => v == null ? null : [LEFT + slot * (i + 0.5), y(v, max)]);
      const path = points.reduce((d, p, i) => !p ? d : d + `${d && points[i - 1] ? "L" : "M"}${p[0]},${p[1]} `, "");
      svg.append(el("path", {d: path, fill: "none", stroke: s.color, "stroke-width": 2,
                             "stroke-dasharray": s.dashed ? "5 4" : "none", "data-series": s.name}));
      points.forEach((p, i) => {
        if (!p) return;
        const dot = el("circle", {cx: p[0], cy: p[1], r: 3, fill: s.color});
        dot.append(el("title", {}, `${labels[i]} · ${s.name}: ${(s.axis === "right" ? formatRight : format)(s.values[i])}`));
        svg.append(dot);
      });
    }
    const legend = document.createElement("div");
    legend.className = "legend";
    for (const s of series) {
      const item = document.createElement("span");
      item.innerHTML = `<i style="background:${s.color}"></i>`;
      item.append(s.name);
      legend.append(item);
    }
    container.replaceChildren(svg, legend);
  }

  // Colors in order for series that do not name one.
  function colored(series) {
    return series.map((s, i) => ({color: PALETTE[i % PALETTE.length], ...s}));
  }

  return {draw: (container, labels, series, options) => draw(container, labels, colored(series), options)};
})();
