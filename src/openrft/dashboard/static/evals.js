// Evals: the list with their runs, a run's page, and a comparison of runs (base against fine-tuned).

import { api, listAll } from "./api.js";
import { histogram } from "./charts.js";
import { badge, el, fixed, mean, pre, std, table, when } from "./dom.js";
import { formatP, pairedDifference } from "./stats.js";

const TIE = 1e-9;

export function itemScore(outputItem) {
  return mean((outputItem.results || []).map((r) => r.score));
}

function outputText(outputItem) {
  return (outputItem.sample?.output || []).map((m) => m.content).join("\n");
}

function reference(outputItem) {
  const item = outputItem.datasource_item || {};
  return item.reference_answer === undefined ? JSON.stringify(item) : JSON.stringify(item.reference_answer);
}

// Each item's mean over its output items (one per run) of `score(outputItem)`.
function perItemMeans(items, score) {
  const perItem = new Map();
  for (const it of items) perItem.set(it.datasource_item_id, [...(perItem.get(it.datasource_item_id) || []), score(it)]);
  return new Map([...perItem].map(([k, v]) => [k, mean(v)]));
}

// The same per testing criterion, by the name in each output item's results.
function criterionMeans(items) {
  const names = [...new Set(items.flatMap((it) => (it.results || []).map((r) => r.name)))];
  return new Map(names.map((n) => [n, perItemMeans(items, (it) => (it.results || []).find((r) => r.name === n)?.score ?? 0)]));
}

// Is the difference real? The combined score and each criterion, paired over the shared items.
function significanceTable(base, other, shared, name) {
  const measures = [["combined score", base.perItem, other.perItem]];
  for (const [criterion, scores] of base.byCriterion) {
    if (other.byCriterion.has(criterion) && base.byCriterion.size > 1) measures.push([criterion, scores, other.byCriterion.get(criterion)]);
  }
  const rows = measures.map(([label, b, o]) => {
    const s = pairedDifference(shared.map((k) => b.get(k)), shared.map((k) => o.get(k)), { tolerance: TIE });
    if (!s) return [label, "—", "—", "—", "—", "—", "—", "no shared items"];
    const ci = s.ciLow === null ? "—" : `[${signed(s.ciLow)}, ${signed(s.ciHigh)}]`;
    const cls = s.significant ? (s.ciLow > 0 ? "gain" : "loss") : "";
    return {
      attrs: { "data-significance": label, "data-ci": s.ciLow === null ? "" : `${s.ciLow},${s.ciHigh}`, class: cls },
      cells: [label, fixed(mean(shared.map((k) => b.get(k)))), fixed(mean(shared.map((k) => o.get(k)))), signed(s.meanDelta), ci, formatP(s.wilcoxonP), formatP(s.signP), s.verdict],
    };
  });
  return el(
    "div",
    {},
    el("h3", {}, "Is the difference real?"),
    table(["measure", name(base), name(other), "Δ mean", "95% CI of Δ", "Wilcoxon p", "sign test p", "verdict"], rows),
    el("p", { class: "muted" }, "Paired over items (each item's mean over its runs): a bootstrap (BCa) interval of the mean difference and two-sided Wilcoxon signed-rank and sign tests, as openrft eval --compare reports them."),
  );
}

function signed(v) {
  return typeof v === "number" ? `${v >= 0 ? "+" : ""}${v.toFixed(3)}` : "—";
}


async function runItems(evalId, runId) {
  return listAll(`/v1/evals/${evalId}/runs/${runId}/output_items`);
}

export async function evalsPage(view) {
  const evals = await listAll("/v1/evals?order=desc", { max: 200 });
  view.append(el("h1", {}, "Evals"));
  if (!evals.length) {
    view.append(el("p", { class: "muted" }, "No evals yet."));
    return;
  }
  const form = el("form", { class: "compare-form", onsubmit: (e) => compareSubmit(e, form) });
  view.append(el("p", { class: "muted" }, "Tick two or more runs and compare them."), form);
  for (const ev of evals) {
    const runs = await listAll(`/v1/evals/${ev.id}/runs`, { max: 200 });
    form.append(
      el("h2", {}, el("a", { href: `#/evals/${ev.id}` }, ev.name || ev.id)),
      table(
        ["", "run", "model", "status", "passed / total", "created"],
        runs.map((r) => ({
          attrs: { "data-run": r.id },
          cells: [
            el("input", { type: "checkbox", name: "run", value: `${ev.id}/${r.id}`, "aria-label": `select ${r.id}` }),
            el("a", { href: `#/evals/${ev.id}/runs/${r.id}` }, r.name || r.id),
            r.model || "—",
            badge(r.status),
            `${r.result_counts?.passed ?? 0} / ${r.result_counts?.total ?? 0}`,
            when(r.created_at),
          ],
        })),
      ),
    );
  }
  form.append(el("button", { type: "submit" }, "Compare selected runs"));
}

function compareSubmit(event, form) {
  event.preventDefault();
  const picked = [...form.querySelectorAll("input[name=run]:checked")].map((i) => i.value);
  if (picked.length < 2) {
    alert("Pick at least two runs.");
    return;
  }
  location.hash = `#/compare?runs=${picked.map(encodeURIComponent).join(",")}`;
}

export async function evalPage(view, evalId) {
  const [ev, runs] = await Promise.all([api(`/v1/evals/${evalId}`), listAll(`/v1/evals/${evalId}/runs`)]);
  view.append(el("h1", {}, "Eval ", ev.name || ev.id));
  const jobId = ev.metadata?.fine_tuning_job_id;
  if (jobId) view.append(el("p", {}, "The validations of job ", el("a", { href: `#/jobs/${jobId}` }, el("code", {}, jobId)), "."));
  const byModel = new Map();
  const rows = [];
  for (const r of runs) {
    const items = r.status === "completed" ? await runItems(evalId, r.id) : [];
    const m = mean(items.map(itemScore));
    if (m !== null) byModel.set(r.model, [...(byModel.get(r.model) || []), m]);
    rows.push([el("a", { href: `#/evals/${evalId}/runs/${r.id}` }, r.name || r.id), r.model || "—", badge(r.status), fixed(m)]);
  }
  view.append(table(["run", "model", "status", "mean score"], rows));
  view.append(el("h2", {}, "Across runs"));
  view.append(
    table(
      ["model", "runs", "mean ± std of run means"],
      [...byModel].map(([model, means]) => [model, means.length, `${fixed(mean(means))} ± ${fixed(std(means))}`]),
    ),
  );
  view.append(el("h2", {}, "Testing criteria"), pre(JSON.stringify(ev.testing_criteria, null, 2)));
}

export async function runPage(view, evalId, runId) {
  const [run, items] = await Promise.all([api(`/v1/evals/${evalId}/runs/${runId}`), runItems(evalId, runId)]);
  const scores = items.map(itemScore);
  view.append(
    el("h1", {}, "Run ", el("code", {}, run.id), " ", badge(run.status)),
    el(
      "div",
      { class: "facts" },
      el("span", {}, "model ", el("b", {}, run.model || "—")),
      el("span", {}, "mean ", el("b", { "data-metric": "mean" }, fixed(mean(scores)))),
      el("span", {}, "± std ", el("b", { "data-metric": "std" }, fixed(std(scores)))),
      el("span", {}, "passed ", el("b", { "data-metric": "passed" }, `${run.result_counts?.passed ?? 0} / ${run.result_counts?.total ?? 0}`)),
      el("a", { href: `#/evals/${evalId}` }, "all runs of this eval"),
    ),
  );
  view.append(el("section", { class: "grid" }, histogram({ title: "Score distribution", groups: [{ label: run.model || run.id, scores }] })));
  view.append(el("h2", {}, "Per testing criterion"));
  view.append(
    table(
      ["criterion", "passed", "failed", "pass rate"],
      (run.per_testing_criteria_results || []).map((c) => ({
        attrs: { "data-criterion": c.testing_criteria },
        cells: [c.testing_criteria, c.passed, c.failed, fixed(c.passed + c.failed ? c.passed / (c.passed + c.failed) : null)],
      })),
    ),
  );
  const worst = items
    .map((it, i) => ({ it, s: scores[i] }))
    .sort((a, b) => (a.s ?? 0) - (b.s ?? 0))
    .slice(0, 20);
  view.append(el("h2", {}, "Worst items"));
  view.append(
    table(
      ["item", "score", "output", "reference"],
      worst.map(({ it, s }) => ({
        attrs: { "data-item": it.datasource_item_id },
        cells: [it.datasource_item_id, fixed(s), pre(outputText(it)), pre(reference(it))],
      })),
    ),
  );
  return run.status === "queued" || run.status === "in_progress";
}

export async function comparePage(view, params) {
  const refs = (params.get("runs") || "").split(",").filter(Boolean).map(decodeURIComponent);
  const runs = await Promise.all(
    refs.map(async (ref) => {
      const [evalId, runId] = ref.split("/");
      const [run, items] = await Promise.all([api(`/v1/evals/${evalId}/runs/${runId}`), runItems(evalId, runId)]);
      return { run, items, perItem: perItemMeans(items, itemScore), byCriterion: criterionMeans(items) };
    }),
  );
  view.append(el("h1", {}, "Compare runs"));
  // Runs are named in headings and legends; the table says which model each name is.
  const name = (r) => r.run.name || r.run.id;
  view.append(
    table(
      ["run", "model", "passed / total", "mean", "std", "items"],
      runs.map((r) => [
        name(r),
        r.run.model || "—",
        `${r.run.result_counts?.passed ?? 0} / ${r.run.result_counts?.total ?? 0}`,
        fixed(mean([...r.perItem.values()])),
        fixed(std([...r.perItem.values()])),
        r.perItem.size,
      ]),
    ),
  );
  const charts = el("section", { class: "grid" });
  charts.append(histogram({ title: "Score distributions", groups: runs.map((r) => ({ label: name(r), scores: r.items.map(itemScore) })) }));
  view.append(charts);
  const [base, ...others] = runs;
  for (const other of others) {
    const shared = [...base.perItem.keys()].filter((k) => other.perItem.has(k));
    const deltas = shared.map((k) => ({ k, d: other.perItem.get(k) - base.perItem.get(k) }));
    const win = deltas.filter((x) => x.d > TIE).length;
    const loss = deltas.filter((x) => x.d < -TIE).length;
    // 21 bins over [-1.05, 1.05]: the middle one is centred on 0, so ties do not read as wins.
    charts.append(
      histogram({
        title: `Per-item delta: ${name(other)} − ${name(base)}`,
        groups: [{ label: "score delta", scores: deltas.map((x) => x.d) }],
        bins: 21,
        lo: -1.05,
        hi: 1.05,
        ticks: [-1, -0.5, 0, 0.5, 1],
        xLabel: "delta",
      }),
    );
    view.append(
      el("h2", {}, `${name(other)} against ${name(base)}`),
      el(
        "p",
        { class: "facts", "data-wtl": `${win}/${shared.length - win - loss}/${loss}` },
        `win ${win} · tie ${shared.length - win - loss} · loss ${loss} on ${shared.length} shared items; mean delta ${fixed(mean(deltas.map((x) => x.d)))}`,
      ),
      significanceTable(base, other, shared, name),
      table(
        ["item", name(base), name(other), "delta"],
        deltas
          .sort((a, b) => a.d - b.d)
          .map(({ k, d }) => ({ attrs: { "data-item": k }, cells: [k, fixed(base.perItem.get(k)), fixed(other.perItem.get(k)), fixed(d)] })),
      ),
    );
  }
}
