// Charts: uPlot (vendored, MIT) for series over steps; small hand-drawn SVG for histograms and bars.

import { el } from "./dom.js";

const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];

export function color(i) {
  return PALETTE[i % PALETTE.length];
}

const STEP_INCREMENTS = [1, 2, 5].flatMap((m) => [1, 10, 100, 1000, 10000, 100000].map((p) => m * p)).sort((a, b) => a - b);

// What legends and ticks print: 3 significant digits, no float noise (0.30000000000000004).
export function short(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3)));
}

// A line chart over training steps. `series`: [{label, values, dash?, color?}], `x`: step numbers.
// `yMin`/`yMax` pin the y range (fractions pin [0, 1], so a flat zero line reads as zero, not as
// uPlot's default 0–100 range for constant data).
export function lineChart({ title, x, series, yLabel, xLabel = "step", height = 220, yMin, yMax }) {
  const box = el("figure", { class: "chart", "data-chart": title });
  box.append(el("figcaption", {}, title));
  const plotArea = el("div", { class: "plot" });
  box.append(plotArea);
  const shown = series.filter((s) => s.values.some((v) => v !== null && v !== undefined));
  if (!x.length || !shown.length) {
    plotArea.append(el("p", { class: "muted" }, "no data yet"));
    return box;
  }
  const last = x.length - 1;
  const range = (u, lo, hi) => {
    const min = yMin ?? lo;
    const max = Math.max(yMax ?? hi, hi);
    const pad = max > min ? (max - min) * 0.05 : Math.abs(min) * 0.1 || 1; // constant data: centre it
    return [yMin ?? min - pad, yMax !== undefined && hi <= yMax ? yMax : max + pad];
  };
  const opts = {
    width: 600,
    height,
    scales: { x: { time: false }, y: { range } },
    axes: [
      // Steps are whole numbers: no tick at step 1.25.
      { label: xLabel, stroke: "#475569", incrs: STEP_INCREMENTS },
      { label: yLabel, stroke: "#475569", size: 56 },
    ],
    // The legend shows the last step's values, and the hovered step's while the cursor is over the plot.
    legend: { live: true },
    hooks: {
      setLegend: [
        (u) => {
          if (u.legend.idx === null || u.legend.idx === undefined) u.setLegend({ idx: last }, false);
        },
      ],
    },
    series: [
      { label: xLabel, value: (u, v) => short(v) },
      ...shown.map((s, i) => ({
        label: s.label,
        stroke: s.color || color(i),
        width: 2,
        dash: s.dash,
        spanGaps: true,
        points: { show: x.length < 60 },
        value: (u, v) => short(v),
      })),
    ],
  };
  const data = [x, ...shown.map((s) => s.values.map((v) => (v === undefined ? null : v)))];
  // Size to the container once it is in the document, and follow it.
  requestAnimationFrame(() => {
    const plot = new uPlot({ ...opts, width: Math.max(plotArea.clientWidth, 260) }, data, plotArea);
    plot.setLegend({ idx: last }, false);
    new ResizeObserver(() => plot.setSize({ width: Math.max(plotArea.clientWidth, 260), height })).observe(
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

// Histograms of values in [lo, hi], one bar per group side by side in each bin (overlaid
// translucent bars hid each other). `groups`: [{label, scores}]; `ticks`: x values to label.
export function histogram({ title, groups, bins = 10, lo = 0, hi = 1, xLabel = "score", ticks }) {
  const box = el("figure", { class: "chart", "data-chart": title });
  box.append(el("figcaption", {}, title));
  const width = 600;
  const height = 240;
  const pad = { left: 48, right: 16, top: 12, bottom: 40 };
  const counts = groups.map((g) => {
    const c = new Array(bins).fill(0);
    for (const s of g.scores) {
      if (s === null || s === undefined || Number.isNaN(s)) continue;
      const i = Math.min(bins - 1, Math.max(0, Math.floor(((s - lo) / (hi - lo || 1)) * bins)));
      c[i] += 1;
    }
    return c;
  });
  // Whole-number count ticks: 0, step, 2·step… up to the tallest bar or just above it.
  const tallest = Math.max(1, ...counts.flat());
  const step = Math.max(1, Math.ceil(tallest / 4));
  const top = step * Math.ceil(tallest / step);
  const plot = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const bw = w / bins;
  const xOf = (v) => pad.left + ((v - lo) / (hi - lo || 1)) * w;
  plot.append(svg("line", { x1: pad.left, y1: pad.top + h, x2: pad.left + w, y2: pad.top + h, class: "axis" }));
  plot.append(svg("line", { x1: pad.left, y1: pad.top, x2: pad.left, y2: pad.top + h, class: "axis" }));
  for (let v = 0; v <= top; v += step) {
    const y = pad.top + h - (v / top) * h;
    plot.append(svg("line", { x1: pad.left, y1: y, x2: pad.left + w, y2: y, class: "gridline" }));
    plot.append(svg("text", { x: pad.left - 6, y: y + 4, "text-anchor": "end", class: "tick" }, String(v)));
  }
  for (const v of ticks || [0, 1, 2, 3, 4, 5].map((i) => lo + ((hi - lo) * i) / 5)) {
    plot.append(svg("line", { x1: xOf(v), y1: pad.top + h, x2: xOf(v), y2: pad.top + h + 4, class: "axis" }));
    plot.append(svg("text", { x: xOf(v), y: pad.top + h + 17, "text-anchor": "middle", class: "tick" }, short(v)));
  }
  plot.append(svg("text", { x: pad.left + w / 2, y: height - 4, "text-anchor": "middle", class: "label" }, xLabel));
  plot.append(
    svg("text", { x: 12, y: pad.top + h / 2, transform: `rotate(-90 12 ${pad.top + h / 2})`, class: "label" }, "count"),
  );
  const barWidth = (bw - 2) / groups.length;
  counts.forEach((c, g) => {
    c.forEach((n, i) => {
      if (!n) return;
      const bh = (n / top) * h;
      const rect = svg("rect", {
        x: pad.left + i * bw + 1 + g * barWidth,
        y: pad.top + h - bh,
        width: barWidth,
        height: bh,
        fill: color(g),
        "data-count": n,
      });
      const from = lo + ((hi - lo) * i) / bins;
      const to = lo + ((hi - lo) * (i + 1)) / bins;
      rect.append(svg("title", {}, `${groups[g].label}: ${n} between ${short(from)} and ${short(to)}`));
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
