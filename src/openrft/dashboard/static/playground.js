// Grader playground: run a grader on one sample through /v1/fine_tuning/alpha/graders/run, then save it.

import { api } from "./api.js";
import { el, fixed, pre, table } from "./dom.js";

const EXAMPLE = {
  type: "string_check",
  name: "exact answer",
  input: "{{sample.output_text}}",
  reference: "{{item.reference_answer}}",
  operation: "eq",
};

function parse(text, what) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} is not valid JSON: ${error.message}`);
  }
}

export async function playgroundPage(view) {
  let saved = [];
  try {
    saved = (await api("/v1/openrft/graders")).data;
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  const grader = el("textarea", { rows: 12, "aria-label": "grader JSON", spellcheck: "false" });
  grader.value = JSON.stringify(EXAMPLE, null, 2);
  const sample = el("textarea", { rows: 3, "aria-label": "model sample" });
  sample.value = "42";
  const item = el("textarea", { rows: 3, "aria-label": "item JSON", spellcheck: "false" });
  item.value = JSON.stringify({ reference_answer: "42" });
  const name = el("input", { type: "text", "aria-label": "grader name", placeholder: "name to save under" });
  const out = el("div", { class: "result", "data-result": "" });
  const pick = el(
    "select",
    {
      "aria-label": "saved graders",
      onchange: (e) => {
        const g = saved.find((s) => s.id === e.target.value);
        if (g) {
          grader.value = JSON.stringify(g.grader, null, 2);
          name.value = g.name;
        }
      },
    },
    el("option", { value: "" }, saved.length ? "pick a saved grader…" : "no saved graders"),
    saved.map((g) => el("option", { value: g.id }, g.name)),
  );

  const show = (node) => out.replaceChildren(node);
  const run = async () => {
    try {
      const body = { grader: parse(grader.value, "the grader"), model_sample: sample.value, item: parse(item.value, "the item") };
      const r = await api("/v1/fine_tuning/alpha/graders/run", { method: "POST", body });
      const flags = Object.entries(r.metadata?.errors || {}).filter(([, v]) => v === true).map(([k]) => k);
      show(
        el(
          "div",
          {},
          el("p", { class: "big" }, "reward ", el("b", { "data-reward": r.reward }, fixed(r.reward))),
          flags.length ? el("p", { class: "error" }, `errors: ${flags.join(", ")}`) : null,
          Object.keys(r.sub_rewards || {}).length
            ? table(["sub-grader", "reward"], Object.entries(r.sub_rewards).map(([k, v]) => [k, fixed(v)]))
            : null,
          el("details", {}, el("summary", {}, "RunGraderResponse"), pre(JSON.stringify(r, null, 2))),
        ),
      );
    } catch (error) {
      show(el("p", { class: "error" }, error.message));
    }
  };
  const save = async () => {
    try {
      const g = parse(grader.value, "the grader");
      await api("/v1/fine_tuning/alpha/graders/validate", { method: "POST", body: { grader: g } });
      const s = await api("/v1/openrft/graders", { method: "POST", body: { name: name.value || g.name || g.type, grader: g } });
      show(el("p", { class: "ok", "data-saved": s.id }, `saved as ${s.name} (${s.id})`));
    } catch (error) {
      show(el("p", { class: "error" }, error.message));
    }
  };
  view.append(
    el("h1", {}, "Grader playground"),
    el(
      "div",
      { class: "playground" },
      el("label", {}, "Saved graders", pick),
      el("label", {}, "Grader (OpenAI JSON)", grader),
      el("label", {}, "Sample (model output)", sample),
      el("label", {}, "Item (JSON)", item),
      el("div", { class: "controls" }, el("button", { onclick: run, "data-action": "run" }, "Run grader"), name, el("button", { onclick: save, "data-action": "save" }, "Save grader")),
      out,
    ),
  );
}
