"""The evals engine on a tiny model built in code: record counts, metrics, resume, comparisons."""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from openrft.errors import InvalidRequestError
from openrft.evals import (
    Criterion,
    EvalRecord,
    ResultsFile,
    compare,
    make_criteria,
    readiness,
    render_report,
    run_eval,
    summarize,
)
from openrft.models import Completion, GenerationOptions, LocalBackend, LocalChatModel


@dataclass
class Row:
    line: int
    messages: list[dict[str, Any]]
    item: dict[str, Any] = field(default_factory=dict)


ROWS = [
    Row(
        i + 1,
        [{"role": "developer", "content": "Answer."}, {"role": "user", "content": f"the cat {i}"}],
        {"reference_answer": "cat" if i % 2 else "dog"} if i < 4 else {"topic": "pets"},
    )
    for i in range(5)
]
CONTAINS_T = {
    "type": "string_check",
    "name": "has_t",
    "input": "{{sample.output_text}}",
    "reference": "t",
    "operation": "like",
}
LENGTH = {
    "type": "python",
    "name": "short",
    "source": "def grade(sample, item):\n    return 1.0 if len(sample['output_text']) < 12 else 0.0\n",
    "pass_threshold": 1.0,
}


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path) -> LocalBackend:
    return LocalBackend(LocalChatModel(tiny_model_dir, device="cpu"), name="tiny")


def _options(seed: int = 7) -> GenerationOptions:
    return GenerationOptions(temperature=1.0, max_tokens=8, seed=seed)


async def test_records_and_metrics_match_an_independent_computation(backend):
    criteria = [Criterion("has_t", CONTAINS_T), Criterion("short", LENGTH)]  # wire dicts, parsed
    result = await run_eval(backend, ROWS, criteria, n_runs=3, options=_options(), batch_size=2)
    records = result.records
    assert len(records) == len(ROWS) * 3
    assert {(r.item_index, r.run) for r in records} == {(i, r) for i in range(5) for r in range(3)}
    for r in records:  # each verdict recomputed from the answer text
        assert r.model == "tiny" and r.prompt == ROWS[r.item_index].messages
        assert r.scores["has_t"] == (1.0 if "t" in r.output else 0.0)
        assert r.scores["short"] == (1.0 if len(r.output) < 12 else 0.0)
        assert r.score == pytest.approx((r.scores["has_t"] + r.scores["short"]) / 2)
        assert r.passed_all == (r.scores["has_t"] == 1.0 and r.scores["short"] == 1.0)
        assert r.completion_tokens > 0 and r.prompt_tokens > 0 and r.finish_reason in ("stop", "length")
    # the reference shown: item.reference_answer when present, else the item
    assert records[0].reference == "dog" and records[0].labelled
    assert records[-1].reference == {"topic": "pets"} and not records[-1].labelled

    s = result.summary()["models"]["tiny"]
    scores = [r.score for r in records]
    assert s["mean"] == pytest.approx(statistics.fmean(scores))
    run_means = [statistics.fmean(r.score for r in records if r.run == k) for k in range(3)]
    assert s["std_across_runs"] == pytest.approx(statistics.pstdev(run_means))
    item_stds = [statistics.pstdev([r.score for r in records if r.item_index == i]) for i in range(5)]
    assert s["item_spread_mean"] == pytest.approx(statistics.fmean(item_stds))
    assert s["pass_rate"] == pytest.approx(sum(r.passed_all for r in records) / 15)
    assert s["histogram"] == [sum(min(9, int(x * 10)) == b for x in scores) for b in range(10)]
    assert s["criteria"]["short"]["pass_threshold"] == 1.0
    assert s["criteria"]["has_t"]["pass_threshold"] == 1.0  # string_check passes on 1
    assert s["criteria"]["has_t"]["pass_rate"] == pytest.approx(
        sum(r.scores["has_t"] == 1.0 for r in records) / 15
    )
    assert s["tokens"]["completion_total"] == sum(r.completion_tokens for r in records)
    assert s["tokens"]["prompt_mean"] == pytest.approx(statistics.fmean(r.prompt_tokens for r in records))
    assert sum(s["errors"].values()) == 0 and len(s["errors"]) == 11
    worst = s["worst_items"][0]
    item_means = [statistics.fmean(r.score for r in records if r.item_index == i) for i in range(5)]
    assert worst["mean_score"] == min(item_means)
    assert worst["item_index"] == item_means.index(min(item_means))


def _record(model: str, item: int, run: int, score: float, reference: Any = None) -> EvalRecord:
    return EvalRecord(
        model=model,
        item_index=item,
        run=run,
        line=item + 1,
        prompt=[{"role": "user", "content": f"q{item}"}],
        output="x",
        finish_reason="stop",
        prompt_tokens=1,
        completion_tokens=1,
        reasoning_tokens=0,
        scores={"g": score},
        passed={"g": score >= 0.5},
        errors={"g": []},
        reference=reference,
        labelled=reference is not None,
    )


def _set(scores: Any, runs: int = 3, items: int = 10, reference: Any = lambda i: None) -> list[EvalRecord]:
    return [_record("m", i, r, scores(i, r), reference(i)) for i in range(items) for r in range(runs)]


def test_readiness_verdicts():
    flat = readiness(_set(lambda i, r: 0.0))
    assert flat["ready"] is False and flat["floor_fraction"] == 1.0 and flat["set_saturated"] == "floor"
    assert flat["verdict"].startswith("not ready: 100% of items score at the floor")
    assert "too hard" in flat["verdict"]
    solved = readiness(_set(lambda i, r: 1.0))
    assert solved["ready"] is False and solved["ceiling_fraction"] == 1.0 and "ceiling" in solved["verdict"]
    same = readiness(_set(lambda i, r: float(i % 2)))  # half 0, half 1, never varying
    assert same["zero_variance_fraction"] == 1.0 and same["ready"] is False and "no signal" in same["verdict"]
    varied = readiness(_set(lambda i, r: (r + i) % 2 * 1.0, reference=str))
    assert varied["ready"] is True and varied["zero_variance_fraction"] == 0.0
    assert varied["verdict"] == "ready: 100% of items have varied scores across runs"
    assert varied["label_skew"] == pytest.approx(0.1) and not varied["label_skew_warning"]
    skewed = readiness(_set(lambda i, r: (r + i) % 2 * 1.0, reference=lambda i: "A" if i < 8 else "B"))
    assert skewed["label_skew"] == 0.8 and skewed["label_skew_warning"] and "warning" in skewed["verdict"]
    balanced = readiness(_set(lambda i, r: (r + i) % 2 * 1.0, reference=lambda i: "yes" if i < 5 else "no"))
    assert balanced["label_skew"] == 0.5 and not balanced["label_skew_warning"]
    one_run = readiness(_set(lambda i, r: 0.5, runs=1))
    assert one_run["ready"] is None and "at least 2 runs" in one_run["verdict"]
    assert one_run["zero_variance_fraction"] is None
    # 9 of 10 items vary: ready, and the share in the verdict is computed, not fixed
    mostly = readiness(_set(lambda i, r: 0.5 if i == 0 else (r + i) % 2 * 1.0))
    assert mostly["verdict"] == "ready: 90% of items have varied scores across runs"
    # the floor and ceiling follow the score range (a judge scoring on [0, 10])
    wide = readiness(_set(lambda i, r: 9.8), score_range=(0.0, 10.0))
    assert wide["ceiling_fraction"] == 1.0 and wide["ready"] is False


def test_comparison_counts_wins_ties_and_losses():
    base = [_record("a", i, 0, s) for i, s in enumerate([0.0, 0.5, 1.0, 0.2])]
    other = [_record("b", i, 0, s) for i, s in enumerate([1.0, 0.5, 0.0, 0.205])]
    c = compare(base, other)
    assert (c["win"], c["tie"], c["loss"]) == (1, 2, 1)
    assert c["mean_delta"] == pytest.approx((1.0 + 0 - 1.0 + 0.005) / 4)
    assert [d["delta"] for d in c["deltas"]] == pytest.approx([1.0, 0.0, -1.0, 0.005])
    summary = summarize(base + other, make_criteria([{**CONTAINS_T, "name": "g"}]))
    assert [(x["base"], x["other"]) for x in summary["comparisons"]] == [("a", "b")]
    assert summary["models"]["a"]["histogram"] == [1, 0, 1, 0, 0, 1, 0, 0, 0, 1]
    assert summary["models"]["b"]["histogram"] == [1, 0, 1, 0, 0, 1, 0, 0, 0, 1]
    page = render_report(summary, title="<b>a vs b</b>")
    assert page.count("<svg") == 3 and "&lt;b&gt;a vs b&lt;/b&gt;" in page and "http" not in page


def test_histogram_widens_to_scores_outside_the_nominal_range():
    records = [_record("m", i, 0, float(i)) for i in range(6)]  # a python grader scoring 0..5
    python = {"type": "python", "name": "g", "source": "def grade(sample, item):\n    return 0\n"}
    summary = summarize(records, make_criteria([python]))
    assert summary["score_range"] == [0.0, 5.0]
    assert summary["histogram_edges"][0] == 0.0 and summary["histogram_edges"][-1] == 5.0
    assert summary["models"]["m"]["histogram"] == [1, 0, 1, 0, 1, 0, 1, 0, 1, 1]


async def test_an_interrupted_eval_resumes_without_duplicates_or_gaps(backend, tmp_path):
    criteria = make_criteria([CONTAINS_T, LENGTH])
    config = {"test": 1}
    with ResultsFile(tmp_path / "full", config) as full_store:
        full = await run_eval(
            backend, ROWS, criteria, n_runs=2, options=_options(), batch_size=2, store=full_store
        )

    store = ResultsFile(tmp_path / "cut", config)
    task = asyncio.ensure_future(
        run_eval(
            backend,
            ROWS,
            criteria,
            n_runs=2,
            options=_options(),
            batch_size=2,
            store=store,
            on_progress=lambda stage, done, total: stage == "graded" and done >= 4 and task.cancel(),
        )
    )
    with pytest.raises(asyncio.CancelledError):  # cancelled once the first batch was written
        await task
    store.close()
    results = tmp_path / "cut" / "results.jsonl"
    assert 4 <= len(results.read_text().splitlines()) < 10
    with results.open("a") as handle:
        handle.write('{"model": "tiny", "item_ind')  # a half-written line, as a kill leaves it
    with ResultsFile(tmp_path / "cut", config) as resumed_store:
        assert len(resumed_store.records) >= 4
        resumed = await run_eval(
            backend, ROWS, criteria, n_runs=2, options=_options(), batch_size=2, store=resumed_store
        )
    keys = [(r.item_index, r.run) for r in resumed.records]
    assert len(keys) == len(set(keys)) == 10
    assert [(r.output, r.scores) for r in resumed.records] == [(r.output, r.scores) for r in full.records]
    lines = results.read_text().splitlines()
    assert len(lines) == 10 and all(line.endswith("}") for line in lines)
    assert resumed.summary() == full.summary()


def test_resuming_into_a_different_configuration_is_refused(tmp_path):
    ResultsFile(tmp_path, {"runs": 3, "models": ["a"]}).close()
    with pytest.raises(InvalidRequestError, match=r"different configuration \(changed: runs\)"):
        ResultsFile(tmp_path, {"runs": 4, "models": ["a"]})


def test_bad_arguments_are_clear_errors(backend):
    with pytest.raises(InvalidRequestError, match="n_runs must be at least 1"):
        asyncio.run(run_eval(backend, ROWS, make_criteria([CONTAINS_T]), n_runs=0))
    with pytest.raises(InvalidRequestError, match="two testing criteria are named 'has_t'"):
        make_criteria([CONTAINS_T, CONTAINS_T])
    with pytest.raises(InvalidRequestError, match="at least one grader"):
        asyncio.run(run_eval(backend, ROWS, [], n_runs=1))


def test_default_pass_thresholds():
    python = {"type": "python", "source": "def grade(sample, item):\n    return 0\n"}
    assert Criterion("p", python).pass_threshold == 0.5  # middle of [0, 1]
    assert Criterion("p", {**python, "pass_threshold": 0.8}).pass_threshold == 0.8
    assert Criterion("p", {**python, "pass_threshold": 0.8}, pass_threshold=0.3).pass_threshold == 0.3
    judge = {
        "type": "score_model",
        "model": "gpt-4.1",
        "input": [{"role": "user", "content": "rate {{sample.output_text}}"}],
        "range": [0, 10],
    }
    assert Criterion("j", judge).pass_threshold == 5.0 and Criterion("j", judge).range == (0.0, 10.0)


@pytest.mark.slow
async def test_a_real_eval_on_the_packaged_smollm2():
    from openrft.models import open_backend

    rows = [
        Row(
            1,
            [{"role": "user", "content": "What is the capital of France? One word."}],
            {"reference_answer": "Paris"},
        ),
        Row(
            2,
            [{"role": "user", "content": "What is 2 + 2? Answer with a number."}],
            {"reference_answer": "4"},
        ),
        Row(
            3,
            [{"role": "user", "content": "Name the color of the sky. One word."}],
            {"reference_answer": "blue"},
        ),
    ]
    grader = {
        **CONTAINS_T,
        "name": "mentions",
        "reference": "{{item.reference_answer}}",
        "operation": "ilike",
    }
    backend = open_backend("smollm2-135m-instruct")
    try:
        options = GenerationOptions(temperature=0.7, max_tokens=16, seed=0)
        result = await run_eval(backend, rows, make_criteria([grader]), n_runs=2, options=options)
    finally:
        backend.close()
    assert len(result.records) == 6
    for r in result.records:
        assert r.output.strip() and 0 < r.completion_tokens <= 16
        assert r.scores["mentions"] == float(str(r.reference).lower() in r.output.lower())
    summary = result.summary()["models"][backend.name]
    assert summary["records"] == 6 and summary["readiness"]["runs_per_item"] == 2


async def test_rows_with_their_own_tools_are_sampled_with_them():
    """RFT rows may carry ``tools`` (a job validates on such rows): each distinct set goes with its rows."""
    weather = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    rows = [
        Row(line=1, messages=[{"role": "user", "content": "a"}], item={"tools": weather}),
        Row(line=2, messages=[{"role": "user", "content": "b"}], item={}),
        Row(line=3, messages=[{"role": "user", "content": "c"}], item={"tools": weather}),
    ]
    seen: list[tuple[list[str], object]] = []

    class Recording:
        name = "recording"

        async def sample(self, conversations, *, n=1, options):
            seen.append(([c[-1]["content"] for c in conversations], options.tools))
            return [[Completion(text="x", prompt_tokens=1, completion_tokens=1, finish_reason="stop")] * n
                    for _ in conversations]  # fmt: skip

        def close(self):
            pass

    [criterion] = make_criteria(
        [
            {
                "type": "string_check",
                "name": "c",
                "input": "{{sample.output_text}}",
                "reference": "x",
                "operation": "eq",
            }
        ]
    )
    result = await run_eval(Recording(), rows, [criterion], batch_size=8)
    assert sorted(seen, key=lambda s: s[0]) == [(["a", "c"], weather), (["b"], None)]
    assert [r.item_index for r in result.records] == [0, 1, 2]
