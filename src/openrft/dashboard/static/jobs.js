// Jobs: the list, and one job's page (curves, checkpoints, events, controls).

import { api, listAll } from "./api.js";
import { color, lineChart } from "./charts.js";
import { badge, el, fixed, table, when } from "./dom.js";

const LIVE = new Set(["validating_files", "queued", "running", "paused"]);

export function isLive(job) {
  return LIVE.has(job.status);
}

// Per-step metrics: the openrft list endpoint when served, else the job's metrics events.
export async function jobMetrics(jobId) {
  let rows;
  try {
    rows = (await api(`/v1/fine_tuning/jobs/${jobId}/metrics`)).data;
  } catch (error) {
    if (error.status !== 404) throw error;
    const events = await listAll(`/v1/fine_tuning/jobs/${jobId}/events`);
    rows = events.filter((e) => e.type === "metrics" && e.data).map((e) => e.data);
  }
  return rows.slice().sort((a, b) => a.step - b.step);
}

function progress(job, metrics) {
  const last = metrics && metrics[metrics.length - 1];
  const step = job.openrft?.step ?? last?.step;
  const total = job.openrft?.total_steps ?? last?.total_steps;
  if (!step || !total) return "—";
  return el("span", {}, el("progress", { max: total, value: step }), ` ${step}/${total}`);
}

export async function jobsPage(view) {
  const jobs = await listAll("/v1/fine_tuning/jobs", { max: 500 });
  view.append(el("h1", {}, "Fine-tuning jobs"));
  if (!jobs.length) {
    view.append(el("p", { class: "muted" }, "No jobs yet. Create one with the openai client or `openrft train`."));
    return;
  }
  const rows = jobs.map((job) => ({
    attrs: { "data-job": job.id },
    cells: [
      el("a", { href: `#/jobs/${job.id}` }, job.id),
      badge(job.status),
      job.model,
      progress(job),
      fixed(job.openrft?.best_valid_reward_mean),
      job.fine_tuned_model || "—",
      when(job.created_at),
    ],
  }));
  view.append(table(["job", "status", "model", "progress", "best valid reward", "fine-tuned model", "created"], rows));
}

function series(metrics, pick) {
  return metrics.map((m) => {
    const v = pick(m);
    return typeof v === "number" ? v : null;
  });
}

function graderNames(metrics, key) {
  const names = new Set();
  for (const m of metrics) for (const g of m[key]?.graders || []) names.add(g.name);
  return [...names];
}

// The error types that happened at least once: eleven flat zero lines would bury the one that matters.
function errorTypes(metrics) {
  const types = new Set();
  for (const m of metrics) {
    for (const g of m.errors?.graders || []) {
      for (const [k, v] of Object.entries(g)) {
        if (v && k.startsWith("train_") && k.endsWith("_error_mean")) types.add(k.slice(6, -5));
      }
    }
  }
  return [...types];
}

function errorRate(m, type) {
  return (m.errors?.graders || []).reduce((sum, g) => sum + (g[`train_${type}_mean`] || 0), 0);
}

function graderValue(m, key, name, field) {
  const g = (m[key]?.graders || []).find((x) => x.name === name);
  return g ? g[field] : null;
}

export function jobCharts(metrics) {
  const x = metrics.map((m) => m.step);
  const valid = (m) => m.scores?.valid_reward_mean ?? m.full_valid_mean_reward;
  const charts = [
    lineChart({
      title: "Reward",
      x,
      yLabel: "mean reward",
      series: [
        { label: "train", values: series(metrics, (m) => m.scores?.train_reward_mean ?? m.train_mean_reward) },
        { label: "valid", values: series(metrics, valid) },
      ],
    }),
  ];
  const graders = graderNames(metrics, "scores");
  if (graders.length > 1) {
    charts.push(
      lineChart({
        title: "Reward per grader",
        x,
        yLabel: "mean reward",
        // One colour per grader: solid for train, dashed for valid.
        series: graders.flatMap((name, i) => [
          {
            label: `${name} train`,
            color: color(i),
            values: series(metrics, (m) => graderValue(m, "scores", name, "train_reward_mean")),
          },
          {
            label: `${name} valid`,
            color: color(i),
            values: series(metrics, (m) => graderValue(m, "scores", name, "valid_reward_mean")),
            dash: [6, 4],
          },
        ]),
      }),
    );
  }
  charts.push(
    lineChart({
      title: "Tokens per completion",
      x,
      yLabel: "tokens",
      yMin: 0,
      series: [
        { label: "completion", values: series(metrics, (m) => m.completion_tokens_mean) },
        { label: "reasoning (train)", values: series(metrics, (m) => m.reasoning_tokens_mean) },
        { label: "reasoning (valid)", values: series(metrics, (m) => m.valid_reasoning_tokens_mean) },
      ],
    }),
    lineChart({
      title: "Step duration",
      x,
      yLabel: "seconds",
      yMin: 0,
      series: ["full_iteration", "sampling", "grading", "training", "eval"].map((k) => ({
        label: k.replaceAll("_", " "),
        values: series(metrics, (m) => m.timing?.step?.[k]),
      })),
    }),
    lineChart({
      title: "Grader latency",
      x,
      yLabel: "ms per sample",
      yMin: 0,
      series: graderNames(metrics, "timing").map((name) => ({
        label: name,
        values: series(metrics, (m) => {
          const seconds = graderValue(m, "timing", name, "train_execution_latency_mean");
          return typeof seconds === "number" ? seconds * 1000 : null;
        }),
      })),
    }),
    lineChart({
      title: "Grader errors",
      x,
      yLabel: "fraction of samples",
      yMin: 0,
      yMax: 1,
      series: [
        { label: "any error", values: series(metrics, (m) => m.grader_error_rate) }, // openrft's extra
        ...errorTypes(metrics).map((type) => ({
          label: type.replaceAll("_", " "),
          values: series(metrics, (m) => errorRate(m, type)),
        })),
      ],
    }),
    lineChart({
      title: "Zero-variance groups",
      x,
      yLabel: "fraction of prompts",
      yMin: 0,
      yMax: 1,
      series: [{ label: "all completions scored the same", values: series(metrics, (m) => m.zero_variance_group_fraction) }],
    }),
  );
  return charts;
}

async function control(jobId, action, rerender) {
  try {
    await api(`/v1/fine_tuning/jobs/${jobId}/${action}`, { method: "POST" });
  } catch (error) {
    alert(`${action} failed: ${error.message}`);
  }
  rerender();
}

export async function jobPage(view, jobId, rerender) {
  const [job, metrics, checkpoints, events] = await Promise.all([
    api(`/v1/fine_tuning/jobs/${jobId}`),
    jobMetrics(jobId),
    listAll(`/v1/fine_tuning/jobs/${jobId}/checkpoints`),
    api(`/v1/fine_tuning/jobs/${jobId}/events?limit=100`),
  ]);
  const last = metrics[metrics.length - 1];
  view.append(
    el("h1", {}, "Job ", el("code", {}, job.id), " ", badge(job.status)),
    el(
      "div",
      { class: "facts" },
      el("span", {}, "model ", el("b", {}, job.model)),
      el("span", {}, "progress ", progress(job, metrics)),
      el("span", {}, "fine-tuned model ", el("b", {}, job.fine_tuned_model || "—")),
      job.eval_id ? el("a", { href: `#/evals/${job.eval_id}` }, "validation eval") : null,
      el("a", { href: `#/jobs/${job.id}/rollouts` }, "rollout inspector"),
    ),
  );
  const buttons = el("div", { class: "controls" });
  if (job.status === "running" || job.status === "queued")
    buttons.append(el("button", { onclick: () => control(jobId, "pause", rerender), "data-action": "pause" }, "Pause"));
  if (job.status === "paused")
    buttons.append(el("button", { onclick: () => control(jobId, "resume", rerender), "data-action": "resume" }, "Resume"));
  if (isLive(job))
    buttons.append(
      el("button", { class: "danger", onclick: () => control(jobId, "cancel", rerender), "data-action": "cancel" }, "Cancel"),
    );
  view.append(buttons);
  if (job.error && job.error.message) view.append(el("p", { class: "error" }, job.error.message));

  const alarms = events.data.filter((e) => e.level === "warn");
  if (alarms.length) {
    view.append(el("section", { class: "alarms" }, el("h2", {}, "Alarms"), el("ul", {}, alarms.map((e) => el("li", {}, e.message)))));
  }
  if (last) {
    // Every validation is in the metrics; pruning keeps only some checkpoints.
    const validated = metrics.filter((m) => typeof m.full_valid_mean_reward === "number");
    const bestValid = validated.reduce((b, m) => (b && b.full_valid_mean_reward >= m.full_valid_mean_reward ? b : m), null);
    view.append(
      el(
        "p",
        { class: "facts" },
        el("span", {}, `step ${last.step}: train reward `, el("b", {}, fixed(last.scores?.train_reward_mean))),
        el("span", {}, "last valid reward ", el("b", {}, fixed(validated[validated.length - 1]?.full_valid_mean_reward))),
        el(
          "span",
          {},
          "best valid reward ",
          el("b", { "data-metric": "best-valid" }, fixed(bestValid?.full_valid_mean_reward)),
          bestValid ? ` at step ${bestValid.step}` : "",
        ),
      ),
    );
  }
  view.append(el("section", { class: "grid" }, jobCharts(metrics)));

  const best = checkpoints.reduce(
    (b, c) => ((c.metrics?.valid_reward_mean ?? -Infinity) > (b?.metrics?.valid_reward_mean ?? -Infinity) ? c : b),
    null,
  );
  view.append(el("h2", {}, "Checkpoints"));
  const rows = checkpoints
    .slice()
    .sort((a, b) => a.step_number - b.step_number)
    .map((c) => ({
      attrs: { "data-checkpoint": c.step_number, class: c === best ? "best" : "" },
      cells: [
        c.step_number,
        fixed(c.metrics?.valid_reward_mean),
        fixed(c.metrics?.train_reward_mean),
        el("code", {}, c.fine_tuned_model_checkpoint),
        c === best ? el("span", { class: "nowrap" }, "★ best") : "",
      ],
    }));
  view.append(
    rows.length
      ? table(["step", "valid reward", "train reward", "model", ""], rows)
      : el("p", { class: "muted" }, "No checkpoints yet: one is saved at each validation."),
  );
  view.append(el("h2", {}, "Events"));
  view.append(
    table(
      ["time", "level", "message"],
      events.data.map((e) => ({ attrs: { class: `level-${e.level}` }, cells: [when(e.created_at), e.level, e.message] })),
    ),
  );
  return isLive(job);
}

