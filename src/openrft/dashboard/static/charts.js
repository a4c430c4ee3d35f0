// Charts: uPlot (vendored, MIT) for series over steps; small hand-drawn SVG for histograms and bars.

import { el } from "./dom.js";

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];

export function color(i) {
  return PALETTE[i % PALETTE.length];
}

// A line chart over training steps. `series`: [{label, values, dash?}], `x`: step numbers.
export function lineChart({ title, x, series, yLabel, xLabel = "step", height = 220 }) {
  const box = el("figure", { class: "chart", "data-chart": title });
  box.append(el("figcaption", {}, title));
  const plotArea = el("div", { class: "plot" });
  box.append(plotArea);
  const shown = series.filter((s) => s.values.some((v) => v !== null && v !== undefined));
  if (!x.length || !shown.length) {
    plotArea.append(el("p", { class: "muted" }, "no data yet"));
    return box;
  }
  const opts = {
    width: 600,
    height,
    scales: { x: { time: false } },
    axes: [
      { label: xLabel, stroke: "#475569" },
      { label: yLabel, stroke: "#475569", size: 60 },
    ],
    legend: { live: true },
    series: [
      { label: xLabel },
      ...shown.map((s, i) => ({
        label: s.label,
        stroke: s.color || color(i),
        width: 2,
        dash: s.dash,
        spanGaps: true,
        points: { show: x.length < 60 },
      })),
    ],
  };
  const data = [x, ...shown.map((s) => s.values.map((v) => (v === undefined ? null : v)))];
  // Size to the container once it is in the document, and follow it.
  requestAnimationFrame(() => {
    const plot = new uPlot({ ...opts, width: Math.max(plotArea.clientWidth, 280) }, data, plotArea);
    new ResizeObserver(() => plot.setSize({ width: Math.max(plotArea.clientWidth, 280), height })).observe(
      plotArea,
    );
  });
  box.dataset.points = String(x.length);
  box.dataset.last = JSON.stringify(shown.map((s) => [s.label, s.values[s.values.length - 1]]));
  return box;
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

// Overlaid histograms of scores in [lo, hi]. `groups`: [{label, scores}].
export function histogram({ title, groups, bins = 10, lo = 0, hi = 1, xLabel = "score" }) {
  const box = el("figure", { class: "chart", "data-chart": title });
  box.append(el("figcaption", {}, title));
  const width = 600;
  const height = 240;
  const pad = { left: 48, right: 12, top: 12, bottom: 40 };
  const counts = groups.map((g) => {
    const c = new Array(bins).fill(0);
    for (const s of g.scores) {
      if (s === null || s === undefined || Number.isNaN(s)) continue;
      const i = Math.min(bins - 1, Math.max(0, Math.floor(((s - lo) / (hi - lo || 1)) * bins)));
      c[i] += 1;
    }
    return c;
  });
  const top = Math.max(1, ...counts.flat());
  const plot = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const bw = w / bins;
  plot.append(svg("line", { x1: pad.left, y1: pad.top + h, x2: pad.left + w, y2: pad.top + h, class: "axis" }));
  plot.append(svg("line", { x1: pad.left, y1: pad.top, x2: pad.left, y2: pad.top + h, class: "axis" }));
  for (let t = 0; t <= 4; t++) {
    const v = Math.round((top * t) / 4);
    const y = pad.top + h - (v / top) * h;
    plot.append(svg("text", { x: pad.left - 6, y: y + 4, "text-anchor": "end", class: "tick" }, String(v)));
  }
  for (let i = 0; i <= bins; i += Math.max(1, Math.floor(bins / 5))) {
    const x = pad.left + i * bw;
    const v = lo + ((hi - lo) * i) / bins;
    plot.append(svg("text", { x, y: pad.top + h + 16, "text-anchor": "middle", class: "tick" }, v.toFixed(2)));
  }
  plot.append(svg("text", { x: pad.left + w / 2, y: height - 4, "text-anchor": "middle", class: "label" }, xLabel));
  plot.append(
    svg("text", { x: 12, y: pad.top + h / 2, transform: `rotate(-90 12 ${pad.top + h / 2})`, class: "label" }, "count"),
  );
  counts.forEach((c, g) => {
    c.forEach((n, i) => {
      if (!n) return;
      const bh = (n / top) * h;
      const rect = svg("rect", {
        x: pad.left + i * bw + 1,
        y: pad.top + h - bh,
        width: bw - 2,
        height: bh,
        fill: color(g),
        "fill-opacity": groups.length > 1 ? 0.45 : 0.8,
        "data-count": n,
      });
      rect.append(svg("title", {}, `${groups[g].label}: ${n} in bin ${i + 1}`));
      plot.append(rect);
    });
  });
  box.append(plot);
  box.append(legend(groups.map((g) => `${g.label} (n=${g.scores.length})`)));
  box.dataset.counts = JSON.stringify(counts);
  return box;
}

export function legend(labels) {
  const list = el("ul", { class: "legend" });
  labels.forEach((label, i) => {
    list.append(el("li", {}, el("span", { class: "swatch", style: `background:${color(i)}` }), label));
  });
  return list;
}
