"""The evals engine on a tiny model built in code: record counts, metrics, resume, comparisons."""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from openrft.evals import EvalRecord, ResultsFile, compare, make_criteria, readiness, run_eval, summarize
from openrft.models import GenerationOptions, LocalBackend, LocalChatModel


@dataclass
class Row:
    line: int
    messages: list[dict[str, Any]]
    item: dict[str, Any] = field(default_factory=dict)


ROWS = [
    Row(
        i + 1,
        [{"role": "developer", "content": "Answer."}, {"role": "user", "content": f"the cat {i}"}],
        {"reference_answer": "cat" if i % 2 else "dog"},
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
    criteria = make_criteria([CONTAINS_T, LENGTH])
    result = await run_eval(backend, ROWS, criteria, n_runs=3, options=_options(), batch_size=2)
    assert len(result.records) == len(ROWS) * 3
    assert {(r.item_index, r.run) for r in result.records} == {(i, r) for i in range(5) for r in range(3)}
    for r in result.records:  # each verdict recomputed from the answer text
        assert r.scores["has_t"] == (1.0 if "t" in r.output else 0.0)
        assert r.scores["short"] == (1.0 if len(r.output) < 12 else 0.0)
        assert r.score == pytest.approx((r.scores["has_t"] + r.scores["short"]) / 2)
        assert r.passed_all == (r.scores["has_t"] == 1.0 and r.scores["short"] == 1.0)
    s = result.summary()["models"]["tiny"]
    scores = [r.score for r in result.records]
    assert s["mean"] == pytest.approx(statistics.fmean(scores))
    run_means = [statistics.fmean(r.score for r in result.records if r.run == k) for k in range(3)]
    assert s["std_across_runs"] == pytest.approx(statistics.pstdev(run_means))
    assert s["pass_rate"] == pytest.approx(sum(r.passed_all for r in result.records) / 15)
    assert sum(s["histogram"]) == 15
    assert s["histogram"][0] == sum(score < 0.1 for score in scores)
    assert s["histogram"][-1] == sum(score >= 0.9 for score in scores)
    assert s["criteria"]["short"]["pass_threshold"] == 1.0
    assert s["criteria"]["has_t"]["pass_rate"] == pytest.approx(
        sum(r.scores["has_t"] == 1.0 for r in result.records) / 15
    )
    assert s["tokens"]["completion_total"] == sum(r.completion_tokens for r in result.records)
    assert s["worst_items"][0]["mean_score"] == min(
        statistics.fmean(r.score for r in result.records if r.item_index == i) for i in range(5)
    )


def _record(model: str, item: int, run: int, score: float, reference: Any = None) -> EvalRecord:
    return EvalRecord(
        model,
        item,
        run,
        item + 1,
        "x",
        "stop",
        1,
        1,
        0,
        {"g": score},
        {"g": score >= 0.5},
        {"g": []},
        reference,
    )


def test_readiness_verdicts():
    flat = [_record("m", i, r, 0.0) for i in range(10) for r in range(3)]
    assert readiness(flat)["ready"] is False
    assert "too hard" in readiness(flat)["verdict"]
    solved = [_record("m", i, r, 1.0) for i in range(10) for r in range(3)]
    assert readiness(solved)["ready"] is False and readiness(solved)["ceiling_fraction"] == 1.0
    same = [_record("m", i, r, float(i % 2)) for i in range(10) for r in range(3)]
    assert readiness(same)["zero_variance_fraction"] == 1.0 and readiness(same)["ready"] is False
    varied = [_record("m", i, r, (r + i) % 2 * 1.0, reference=str(i)) for i in range(10) for r in range(3)]
    report = readiness(varied)
    assert report["ready"] is True and report["zero_variance_fraction"] == 0.0
    skewed = [
        _record("m", i, r, (r + i) % 2 * 1.0, reference="A" if i < 8 else "B")
        for i in range(10)
        for r in range(3)
    ]
    assert readiness(skewed)["label_skew"] == 0.8 and "warning" in readiness(skewed)["verdict"]
    one_run = [_record("m", i, 0, 0.5) for i in range(4)]
    assert readiness(one_run)["ready"] is None


def test_comparison_counts_wins_ties_and_losses():
    base = [_record("a", i, 0, s) for i, s in enumerate([0.0, 0.5, 1.0, 0.2])]
    other = [_record("b", i, 0, s) for i, s in enumerate([1.0, 0.5, 0.0, 0.205])]
    c = compare(base, other)
    assert (c["win"], c["tie"], c["loss"]) == (1, 2, 1)
    assert c["mean_delta"] == pytest.approx((1.0 + 0 - 1.0 + 0.005) / 4)
    summary = summarize(base + other, make_criteria([{**CONTAINS_T, "name": "g"}]))
    assert summary["comparisons"][0]["other"] == "b"


async def test_an_interrupted_eval_resumes_without_duplicates_or_gaps(backend, tmp_path):
    criteria = make_criteria([CONTAINS_T])
    config = {"test": 1}
    with ResultsFile(tmp_path / "full", config) as full_store:
        full = await run_eval(
            backend, ROWS, criteria, n_runs=2, options=_options(), batch_size=2, store=full_store
        )

    store = ResultsFile(tmp_path / "cut", config)

    def stop_after_first_batch(stage: str, done: int, total: int) -> None:
        if stage == "graded" and done >= 4:
            raise KeyboardInterrupt  # as Ctrl-C would, after the first batch was written

    with pytest.raises(KeyboardInterrupt):
        await run_eval(
            backend,
            ROWS,
            criteria,
            n_runs=2,
            options=_options(),
            batch_size=2,
            store=store,
            on_progress=stop_after_first_batch,
        )
    store.close()
    lines = (tmp_path / "cut" / "results.jsonl").read_text().splitlines()
    assert 0 < len(lines) < 10
    with (tmp_path / "cut" / "results.jsonl").open("a") as handle:
        handle.write('{"model": "tiny", "item_ind')  # a half-written line from a kill
    resumed_store = ResultsFile(tmp_path / "cut", config)
    resumed = await run_eval(
        backend, ROWS, criteria, n_runs=2, options=_options(), batch_size=2, store=resumed_store
    )
    resumed_store.close()
    keys = [(r.item_index, r.run) for r in resumed.records]
    assert len(keys) == len(set(keys)) == 10
    assert [(r.output, r.score) for r in resumed.records] == [(r.output, r.score) for r in full.records]
    assert len((tmp_path / "cut" / "results.jsonl").read_text().splitlines()) == 10


def test_resuming_into_a_different_configuration_is_refused(tmp_path):
    ResultsFile(tmp_path, {"runs": 3}).close()
    with pytest.raises(Exception, match=r"different configuration .*runs"):
        ResultsFile(tmp_path, {"runs": 4})


def test_engine_rejects_zero_runs(backend):
    with pytest.raises(ValueError):
        asyncio.run(run_eval(backend, ROWS, make_criteria([CONTAINS_T]), n_runs=0))
