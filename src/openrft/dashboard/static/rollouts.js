// Rollout inspector: each prompt of a step with its group of completions, scores, errors and advantages.

import { api } from "./api.js";
import { badge, el, fixed, pre } from "./dom.js";

function completionCard(c) {
  const subs = Object.entries(c.sub_rewards || {}).map(([k, v]) => `${k} ${fixed(v)}`);
  const errors = (c.errors || []).map((e) => badge(e));
  return el(
    "article",
    { class: "completion", "data-reward": c.reward },
    el(
      "header",
      {},
      el("b", {}, `reward ${fixed(c.reward)}`),
      c.advantage === undefined ? null : el("span", {}, ` advantage ${fixed(c.advantage)}`),
      subs.length ? el("span", { class: "muted" }, ` (${subs.join(", ")})`) : null,
      c.completion_tokens === undefined ? null : el("span", { class: "muted" }, ` · ${c.completion_tokens} tokens`),
      ...errors,
    ),
    pre(c.text),
  );
}

function promptText(messages) {
  return (messages || []).map((m) => `${m.role}: ${typeof m.content === "string" ? m.content : JSON.stringify(m.content)}`).join("\n");
}

async function compareWithBase(group, job, checkpoint, out) {
  out.replaceChildren(el("p", { class: "muted" }, "sampling…"));
  const ask = async (model) => {
    try {
      const r = await api("/v1/chat/completions", {
        method: "POST",
        body: { model, messages: group.prompt, temperature: 0, max_completion_tokens: 256 },
      });
      return r.choices[0].message.content;
    } catch (error) {
      return `error: ${error.message}`;
    }
  };
  const [base, tuned] = await Promise.all([ask(job.model), ask(checkpoint)]);
  out.replaceChildren(
    el("div", { class: "side-by-side" }, el("div", {}, el("h4", {}, `base: ${job.model}`), pre(base)), el("div", {}, el("h4", {}, checkpoint), pre(tuned))),
  );
}

export async function rolloutsPage(view, jobId, params) {
  const [job, steps, checkpoints] = await Promise.all([
    api(`/v1/fine_tuning/jobs/${jobId}`),
    api(`/v1/fine_tuning/jobs/${jobId}/rollouts`),
    api(`/v1/fine_tuning/jobs/${jobId}/checkpoints?limit=100`),
  ]);
  view.append(el("h1", {}, "Rollouts of ", el("a", { href: `#/jobs/${jobId}` }, el("code", {}, jobId))));
  if (!steps.data.length) {
    view.append(el("p", { class: "muted" }, "No rollouts recorded yet."));
    return job.status === "running";
  }
  const step = Number(params.get("step") || steps.data[steps.data.length - 1].step);
  const filter = params.get("filter") || "all";
  const go = (s, f) => {
    location.hash = `#/jobs/${jobId}/rollouts?step=${s}&filter=${f}`;
  };
  const stepSelect = el(
    "select",
    { "aria-label": "step", onchange: (e) => go(e.target.value, filter) },
    steps.data.map((s) => el("option", { value: s.step, selected: s.step === step }, `step ${s.step} (${s.count} prompts)`)),
  );
  const filterSelect = el(
    "select",
    { "aria-label": "filter", onchange: (e) => go(step, e.target.value) },
    [
      ["all", "all prompts"],
      ["low", "low scores (group mean < 0.5)"],
      ["high", "high scores (group mean ≥ 0.5)"],
      ["errors", "with grader errors"],
    ].map(([v, label]) => el("option", { value: v, selected: v === filter }, label)),
  );
  const ckpts = checkpoints.data.map((c) => c.fine_tuned_model_checkpoint);
  const ckptSelect = el("select", { "aria-label": "checkpoint" }, ckpts.map((c) => el("option", { value: c }, c)));
  view.append(el("div", { class: "controls" }, stepSelect, filterSelect, ckpts.length ? ckptSelect : null));

  const groups = (await api(`/v1/fine_tuning/jobs/${jobId}/rollouts?step=${step}`)).data;
  const groupMean = (g) => g.completions.reduce((a, c) => a + (c.reward || 0), 0) / Math.max(1, g.completions.length);
  const shown = groups.filter((g) => {
    if (filter === "low") return groupMean(g) < 0.5;
    if (filter === "high") return groupMean(g) >= 0.5;
    if (filter === "errors") return g.completions.some((c) => (c.errors || []).length);
    return true;
  });
  view.append(el("p", { class: "muted" }, `${shown.length} of ${groups.length} prompts`));
  for (const group of shown) {
    const compareOut = el("div", { class: "compare-out" });
    view.append(
      el(
        "section",
        { class: "group", "data-group-mean": groupMean(group) },
        el("h3", {}, `prompt · mean reward ${fixed(groupMean(group))}`),
        pre(promptText(group.prompt)),
        group.item?.reference_answer === undefined ? null : el("p", {}, "reference: ", el("code", {}, JSON.stringify(group.item.reference_answer))),
        el("div", { class: "completions" }, group.completions.map(completionCard)),
        ckpts.length
          ? el("button", { onclick: () => compareWithBase(group, job, ckptSelect.value, compareOut) }, "Compare checkpoint with base")
          : null,
        compareOut,
      ),
    );
  }
  return job.status === "running";
}
