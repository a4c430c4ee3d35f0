"""An RFT job over the API whose grader reads ``sample.output_tools``: rows carry ``tools``, the
policy sees them through its chat template, its calls are parsed for the grader, and it learns.

The policy is the tiny random Llama with a Hermes-style tool template, first taught the call
format by a few supervised steps (as any instruct model with tools knows it), picking between
two tools at random; the grader pays for calling ``get_weather``.
"""

from __future__ import annotations

import io
import json
import random
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import Running, run_server_with_worker, wait_for
from tests.tiny_models import TOOL_CHATML, build_tiny_model

TOOLS = [
    {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}}
    for name in ("get_weather", "get_time")
]
TOOL_GRADER = {
    "type": "string_check",
    "name": "called_weather",
    "input": "{{sample.output_tools[0].function.name}}",
    "reference": "{{item.expected_tool}}",
    "operation": "eq",
}


def _teach_the_call_format(path: Path, steps: int = 120) -> None:
    """Supervised steps on ``prompt with tools → one call to a random tool``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from openrft.models import render_prompt

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    rng = random.Random(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=4e-3)
    model.train()
    for _ in range(steps):
        rows = []
        for _ in range(8):
            prompt = render_prompt(
                tokenizer, [{"role": "user", "content": f"the dog ran {rng.randrange(50)}"}], TOOLS
            )
            name = rng.choice(["get_weather", "get_time"])
            call = f'<tool_call>\n{{"name": "{name}", "arguments": {{}}}}\n</tool_call>' + tokenizer.eos_token
            rows.append(
                (tokenizer(prompt, add_special_tokens=False)["input_ids"], tokenizer(call)["input_ids"])
            )
        width = max(len(p) + len(c) for p, c in rows)
        ids = torch.full((len(rows), width), tokenizer.pad_token_id)
        labels = torch.full((len(rows), width), -100)
        for row, (prompt_ids, call_ids) in enumerate(rows):
            ids[row, : len(prompt_ids) + len(call_ids)] = torch.tensor(prompt_ids + call_ids)
            labels[row, len(prompt_ids) : len(prompt_ids) + len(call_ids)] = torch.tensor(call_ids)
        model(
            input_ids=ids, attention_mask=(labels != -100) | (ids != tokenizer.pad_token_id), labels=labels
        ).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(path)


@pytest.fixture(scope="module")
def tool_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    policy = build_tiny_model(tmp_path_factory.mktemp("tool-policy"), chat_template=TOOL_CHATML)
    _teach_the_call_format(policy)
    root = tmp_path_factory.mktemp("tool-jobs")
    with run_server_with_worker(root, {"tool-policy": str(policy)}) as running:
        yield running


def _rows(count: int) -> bytes:
    rows = [
        {
            "messages": [{"role": "user", "content": f"the dog ran {i}"}],
            "tools": TOOLS,
            "expected_tool": "get_weather",
        }
        for i in range(count)
    ]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.mark.slow
def test_an_rft_job_with_a_tool_call_grader_learns(tool_server):
    client = tool_server.client()
    train = client.files.create(file=("train.jsonl", io.BytesIO(_rows(8))), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model="tool-policy",
        training_file=train.id,
        seed=3,
        method={
            "type": "reinforcement",
            "reinforcement": {
                "grader": TOOL_GRADER,
                "hyperparameters": {
                    "batch_size": 2,
                    "compute_multiplier": 1.0,
                    "learning_rate_multiplier": 60,
                    "max_completion_length": 64,
                    "max_steps": 24,
                    "n_epochs": 6,
                    # openrft's: full fine-tuning of the tiny model, and no failing on the samples that
                    # make no call (the grader's template then has no tool call to read: an error)
                    "lora": False,
                    "max_grader_error_rate": 0.95,
                },
            },
        },
    )
    done = wait_for(
        lambda: client.fine_tuning.jobs.retrieve(job.id), lambda j: j.status in ("succeeded", "failed"), 1500
    )
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=200))
    assert done.status == "succeeded", [e.message for e in events]
    metrics = sorted((e.data for e in events if e.type == "metrics"), key=lambda m: m["step"])
    rewards = [m["train_mean_reward"] for m in metrics]
    print("train reward by step:", [round(r, 2) for r in rewards])
    first, last = statistics.fmean(rewards[:4]), statistics.fmean(rewards[-8:])
    assert 0 < first < 0.5  # the taught policy writes a well-formed get_weather call now and then
    assert last > first + 0.2, rewards
