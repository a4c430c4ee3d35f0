"""Rollouts three ways: transformers ``generate`` (today's path), TRL's continuous batching, and
a separate ``openrft serve`` over HTTP (the path a vLLM server takes), in one run.

Two measures, each as a ratio to ``generate`` measured in the same run (these machines are
noisy, so only same-run ratios are compared):

1. **rollout tokens/s**: one step's rollouts of the demo's shape (4 prompts × 4 completions,
   up to 64 tokens, temperature 0.7; triage-vitals notes), generated ``--repeats`` times
   per path in alternation:
   - ``generate``: one left-padded ``model.generate`` batch (TRL's default path and openrft's
     in-process evals);
   - ``continuous batching``: ``model.generate_batch`` (what TRL's
     ``use_transformers_continuous_batching=True`` calls);
   - ``HTTP``: ``POST /v1/completions`` with token ids to ``openrft serve`` in another process
     (:class:`openrft.models.VLLMServer`, as the trainer calls a vLLM server).
2. **GRPO step time**: ``--steps`` steps of an ``openrft train`` job (LoRA, no preflight, no
   validation) with each rollout path; the median step, the first step excluded.

Constrained decoding is off here: TRL's continuous batching takes no logits processor.

Run: ``.venv/bin/python benchmarks/rollouts.py`` (SmolLM2-135M-Instruct, ~15 minutes on two
cores) or ``--model tiny`` (a random 2-layer model built in code, a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
PROMPTS, COMPLETIONS, MAX_TOKENS, TEMPERATURE = 4, 4, 64, 0.7
KEY = "sk-rollouts-benchmark"
"""The rollout server's admin key (``OPENRFT_API_KEYS`` there, ``OPENRFT_ROLLOUT_API_KEY`` here)."""
A_SHARE = {
    "type": "python",
    "name": "a_share",
    "source": "def grade(sample, item):\n    text = sample['output_text'].replace(' ', '')\n"
    "    return text.count('a') / len(text) if text else 0.0\n",
}


def _model(kind: str, root: Path) -> str:
    if kind == "tiny":
        from tests.tiny_models import build_tiny_model

        return str(build_tiny_model(root / "tiny"))
    from openrft.config import Settings
    from openrft.models import resolve_model_path

    return str(resolve_model_path("smollm2-135m-instruct", Settings().cache_dir))


def _rows() -> list[dict[str, Any]]:
    lines = (ROOT / "examples" / "triage-vitals" / "train.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines[:16]]


@contextmanager
def _serve(model: str, root: Path) -> Any:
    """``openrft serve`` in its own process, offering ``model`` as ``policy`` (LoRA loading on)."""
    from tests.server.conftest import free_port

    port = free_port()
    command = [sys.executable, "-m", "openrft.cli", "serve", "--port", str(port), "--no-worker"]
    command += ["--allow-runtime-lora", "--data-dir", str(root / "serve"), "--model", f"policy={model}"]
    # Loading adapters at run time takes an admin key: the server's own, as a trainer would hold.
    env = {**os.environ, "OPENRFT_API_KEYS": KEY}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("openrft serve did not start")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=60)


CACHE_MEMORY_SHARE = 0.05
"""Continuous batching sizes its paged KV cache from free memory; unbounded, it took 13 GB of a
24 GB machine here and was killed. 5 % holds a step's 16 sequences many times over."""


def _batching() -> Any:
    from transformers import ContinuousBatchingConfig

    return ContinuousBatchingConfig(max_memory_percent=CACHE_MEMORY_SHARE)


# --- 1. rollout tokens/s ---------------------------------------------------------------------


def _prompt_ids(tokenizer: Any) -> list[list[int]]:
    texts = [
        tokenizer.apply_chat_template(r["messages"], tokenize=False, add_generation_prompt=True)
        for r in _rows()[:PROMPTS]
    ]
    return [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]


def _throughput(model_dir: str, url: str, repeats: int) -> dict[str, list[float]]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from openrft.models import VLLMServer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    prompts = _prompt_ids(tokenizer)
    eos = tokenizer.eos_token_id
    config = GenerationConfig(
        max_new_tokens=MAX_TOKENS, do_sample=True, temperature=TEMPERATURE, top_k=0, top_p=1.0,
        pad_token_id=tokenizer.pad_token_id or eos, eos_token_id=eos,
    )  # fmt: skip
    repeated = [p for p in prompts for _ in range(COMPLETIONS)]

    def generate() -> int:
        batch = tokenizer.pad({"input_ids": repeated}, padding=True, padding_side="left", return_tensors="pt")
        with torch.no_grad():
            out = model.generate(**batch, generation_config=config)
        tokens = 0
        for row in out[:, batch["input_ids"].shape[1] :].tolist():
            tokens += row.index(eos) + 1 if eos in row else len(row)
        return tokens

    def continuous() -> int:
        with torch.no_grad():
            outputs = model.generate_batch(
                repeated, generation_config=config, continuous_batching_config=_batching(), progress_bar=False
            )
        return sum(len(o.generated_tokens) for o in outputs.values())

    server = VLLMServer(url, api_key=KEY)

    def http() -> int:
        rows = server.complete_tokens(
            "policy",
            prompts,
            n=COMPLETIONS,
            temperature=TEMPERATURE,
            top_p=1.0,
            max_tokens=MAX_TOKENS,
            seed=0,
        )
        return sum(len(c.token_ids) for row in rows for c in row)

    paths: dict[str, Callable[[], int]] = {
        "generate": generate,
        "continuous batching": continuous,
        "HTTP": http,
    }
    rates: dict[str, list[float]] = {name: [] for name in paths}
    http()  # the server loads the model on its first request
    for _ in range(repeats):
        for name, run in paths.items():
            started = time.perf_counter()
            tokens = run()
            rates[name].append(tokens / (time.perf_counter() - started))
    server.close()
    return rates


# --- 2. GRPO step time -----------------------------------------------------------------------


def _train(model: str, root: Path, name: str, steps: int, url: str | None) -> list[float]:
    import openrft.training._runner as runner
    from openrft.training import Hyperparameters, TrainConfig, run_training
    from openrft.training._hyper import GROUP_SIZE

    train = root / f"train-{name.replace(' ', '-')}.jsonl"
    train.write_text("".join(json.dumps({"messages": r["messages"]}) + "\n" for r in _rows()))
    config = TrainConfig(
        model=model,
        train_file=train,
        grader=A_SHARE,
        out_dir=root / f"job-{name.replace(' ', '-')}",
        hyperparameters=Hyperparameters(
            lora=True,
            batch_size=PROMPTS,
            compute_multiplier=COMPLETIONS / GROUP_SIZE["cpu"],
            max_completion_length=MAX_TOKENS,
            temperature=TEMPERATURE,
            max_steps=steps,
            eval_interval=10_000,
            seed=0,
        ),
        preflight=False,
        rollout_server=url,
    )
    original = runner._grpo_config
    if name == "continuous batching":  # TRL's switch, on the job's own GRPOConfig

        def with_batching(*args: Any, **kwargs: Any) -> Any:
            grpo = original(*args, **kwargs)
            grpo.use_transformers_continuous_batching = True
            grpo.transformers_continuous_batching_config = {"max_memory_percent": CACHE_MEMORY_SHARE}
            return grpo

        runner._grpo_config = with_batching
    try:
        run_training(config)
    finally:
        runner._grpo_config = original
    from openrft.training import JobFolder

    return [m.timing.step.full_iteration for m in JobFolder(config.out_dir).metrics()][1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["smollm2", "tiny"], default="smollm2")
    parser.add_argument("--repeats", type=int, default=3, help="rollout batches per path")
    parser.add_argument("--steps", type=int, default=4, help="GRPO steps per path (the first is not counted)")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ["OPENRFT_ROLLOUT_API_KEY"] = KEY
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = _model(args.model, root)
        with _serve(model, root) as url:
            rates = _throughput(model, url, args.repeats)
            steps = {
                name: _train(model, root, name, args.steps, None)
                for name in ("generate", "continuous batching")
            }
            steps["HTTP"] = _train(model, root, "HTTP", args.steps, url)
    base_rate = statistics.median(rates["generate"])
    base_step = statistics.median(steps["generate"])
    table = Table(
        title=f"Rollouts, {args.model}: {PROMPTS} prompts × {COMPLETIONS} completions × ≤{MAX_TOKENS} tokens "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
    )
    for column in ("path", "rollout tokens/s (median)", "× generate", "GRPO step s (median)", "× generate"):
        table.add_column(column, justify="right")
    for name in rates:
        rate, step = statistics.median(rates[name]), statistics.median(steps[name])
        table.add_row(
            name, f"{rate:.1f}", f"{rate / base_rate:.2f}", f"{step:.2f}", f"{step / base_step:.2f}"
        )
    console.print(table)
    console.print(f"all rates: {json.dumps({k: [round(v, 1) for v in r] for k, r in rates.items()})}")
    console.print(f"all steps: {json.dumps({k: [round(v, 2) for v in s] for k, s in steps.items()})}")


if __name__ == "__main__":
    main()
