"""The dashboard's run comparison computes what ``openrft eval --compare`` does (``stats.js`` vs scipy).

The JavaScript runs under Node, on the same paired scores as :func:`paired_difference`.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from scipy import stats

from openrft.evals import paired_difference

STATS_JS = Path(__file__).parents[2] / "src" / "openrft" / "dashboard" / "static" / "stats.js"
RUNNER = """
const { pairedDifference } = await import(process.argv[2]);
const cases = JSON.parse(process.argv[3]);
console.log(JSON.stringify(cases.map(([b, o]) => pairedDifference(b, o))));
"""


def _cases() -> list[tuple[list[float], list[float]]]:
    rng = random.Random(7)
    base = [float(rng.random() < 0.5) for _ in range(48)]
    improved = [1.0 if v == 0.0 and rng.random() < 0.6 else v for v in base]
    noisy = [1.0 - v if rng.random() < 0.2 else v for v in base]
    graded = [rng.choice([0.0, 0.2, 0.4, 0.6, 0.8, 1.0]) for _ in range(30)]
    shifted = [min(1.0, v + rng.choice([0.0, 0.2, 0.2, -0.2])) for v in graded]
    distinct = [rng.random() for _ in range(20)]  # no ties, no zeros: scipy's exact distribution
    moved = [v + rng.gauss(0.1, 0.2) for v in distinct]
    few = ([0.0, 0.5, 1.0, 0.0, 0.5, 0.0], [0.5, 0.5, 1.0, 1.0, 1.0, 0.5])  # ties and zeros, 6 items
    cases = [(base, improved), (base, noisy), (graded, shifted), (distinct, moved), few]
    return [*cases, ([0.0] * 4, [0.5] * 4)]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the dashboard's JavaScript")
def test_the_dashboard_interval_and_tests_match_the_cli(tmp_path):
    runner = tmp_path / "run.mjs"
    runner.write_text(RUNNER)
    cases = _cases()
    result = subprocess.run(
        ["node", str(runner), STATS_JS.as_uri(), json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for (base, other), js in zip(cases, json.loads(result.stdout), strict=True):
        py = paired_difference(base, other)
        deltas = [round(o - b, 12) for b, o in zip(base, other, strict=True)]  # as both round them
        assert js["meanDelta"] == pytest.approx(py["mean_delta"], abs=1e-12)
        assert js["signP"] == pytest.approx(py["sign_test_p"], rel=1e-9)
        if any(deltas):  # scipy's choice of method included (exact, every sign flip, or normal)
            assert js["wilcoxonP"] == pytest.approx(stats.wilcoxon(deltas).pvalue, abs=1e-6)
        # a different random stream: the same interval to within resampling noise
        assert js["ciLow"] == pytest.approx(py["ci_low"], abs=0.03)
        assert js["ciHigh"] == pytest.approx(py["ci_high"], abs=0.03)
        assert js["includesZero"] == py["includes_zero"]
        assert js["significant"] == py["significant"]
        assert js["verdict"] == py["verdict"]
