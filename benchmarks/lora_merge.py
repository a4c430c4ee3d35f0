"""Sampling speed of a LoRA adapter merged into its base (what openrft does) against PEFT's
unmerged ``PeftModel``, with the bare base model as the baseline, all in the same run.

The adapter is rank 16 on every linear layer of the packaged SmolLM2-135M (random weights:
speed does not depend on them). Each variant generates the same batch greedily.

Run: ``.venv/bin/python benchmarks/lora_merge.py [--repeats 3] [--tokens 32]``
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from openrft.config import Settings
from openrft.models import LocalChatModel, resolve_model_path

CHATS = [[{"role": "user", "content": f"Write one sentence about the number {i}."}] for i in range(4)]


def _seconds(model: LocalChatModel, repeats: int, tokens: int) -> float:
    model.generate(CHATS[:1], temperature=0, max_tokens=2)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        model.generate(CHATS, temperature=0, max_tokens=tokens)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=32)
    args = parser.parse_args()
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    base_dir = resolve_model_path("smollm2-135m-instruct", Settings().cache_dir)
    with tempfile.TemporaryDirectory() as tmp:
        adapter = Path(tmp) / "adapter"
        config = LoraConfig(r=16, target_modules="all-linear", init_lora_weights=False)
        get_peft_model(AutoModelForCausalLM.from_pretrained(base_dir), config).save_pretrained(adapter)

        base = LocalChatModel(base_dir, device="cpu")
        merged = LocalChatModel(adapter, device="cpu")
        unmerged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), str(adapter))
        peft = LocalChatModel.from_loaded(unmerged.eval(), base.tokenizer, name="peft")
        rows = [
            (name, _seconds(m, args.repeats, args.tokens))
            for name, m in [("base model", base), ("merged (openrft)", merged), ("PeftModel, unmerged", peft)]
        ]

    table = Table(title=f"{len(CHATS)} prompts x {args.tokens} tokens, greedy, best of {args.repeats}")
    for column in ("variant", "seconds", "vs base"):
        table.add_column(column)
    baseline = rows[0][1]
    for name, seconds in rows:
        table.add_row(name, f"{seconds:.2f}", f"{seconds / baseline:.2f}x")
    Console().print(table)
    print(
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )


if __name__ == "__main__":
    main()
