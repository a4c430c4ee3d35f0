// Tiny DOM helpers. Text always goes in through textContent: model outputs are untrusted.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function table(headers, rows, attrs = {}) {
  return el(
    "div",
    { class: "table-wrap" },
    el(
      "table",
      attrs,
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((r) => el("tr", r.attrs || {}, (r.cells || r).map((c) => el("td", {}, c))))),
    ),
  );
}

// Rewards and scores: always the same decimals, so a column of them lines up (0.000, not 0).
export function fixed(value, digits = 3) {
  if (typeof value !== "number" || Number.isNaN(value)) return "—";
  return value.toFixed(digits);
}

// A compact local time ("Dec 2, 06:22:44"; the year only when it is not this one) that does not
// wrap, with the full date and time on hover.
export function when(unix) {
  if (!unix) return "—";
  const d = new Date(unix * 1000);
  const date = { month: "short", day: "numeric" };
  if (d.getFullYear() !== new Date().getFullYear()) date.year = "numeric";
  const time = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  return el("time", { datetime: d.toISOString(), title: d.toLocaleString(), class: "nowrap" }, `${d.toLocaleDateString(undefined, date)}, ${time}`);
}

export function badge(status) {
  return el("span", { class: `badge ${status}` }, status);
}

export function mean(values) {
  const v = values.filter((x) => typeof x === "number" && !Number.isNaN(x));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

export function std(values) {
  const v = values.filter((x) => typeof x === "number" && !Number.isNaN(x));
  if (v.length < 2) return null;
  const m = mean(v);
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
}

export function pre(text) {
  return el("pre", { class: "text" }, text);
}
