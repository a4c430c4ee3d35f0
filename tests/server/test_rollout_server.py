"""vLLM's serving protocol, for real: ``openrft serve`` in its own process answers the endpoints
a trainer and a serving front end use on vLLM (``/v1/load_lora_adapter``, ``/v1/unload_lora_adapter``,
token-id ``/v1/completions``, chat on an adapter name), and the same client code drives it.

* a GRPO job samples every rollout over HTTP from the second server, which loads each policy
  version as an adapter: step k's rollouts come from version k-1, checked by recomputing their
  log-probabilities from the saved adapters;
* an eval and a chat run on an adapter loaded there;
* a second ``openrft serve`` with ``--adapter-server`` trains a LoRA job over the API (its
  rollouts on the same server) and answers chat for the ``ft:`` model by loading it there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from openrft.models import VLLMServer
from openrft.training import Hyperparameters, TrainConfig, run_training
from tests.server.conftest import free_port, wait_for
from tests.training.helpers import A_SHARE, write_rows

KEY = "sk-rollout-test"


@contextmanager
def openrft_serve(tmp: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """``openrft serve`` in a subprocess on a free port; yields its ``/v1`` URL, stops and reaps it."""
    port = free_port()
    log = (tmp / f"serve-{port}.log").open("wb")
    command = [sys.executable, "-m", "openrft.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--data-dir", str(tmp / f"data-{port}"), *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "OPENRFT_API_KEYS": KEY, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp / f"serve-{port}.log").read_text()
            try:
                if httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "openrft serve did not start"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def rollout_server(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("rollout-server")
    with openrft_serve(
        tmp, "--no-worker", "--allow-runtime-lora", "--model", f"tiny={tiny_model_dir}"
    ) as url:
        yield url


def _server(url: str) -> VLLMServer:
    return VLLMServer(url, api_key=KEY, timeout=120)


@pytest.mark.slow
def test_token_completions_and_runtime_adapters_speak_vllms_protocol(
    rollout_server, tiny_model_dir, tmp_path
):
    from openai import OpenAI
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    server = _server(rollout_server)
    [[one, two]] = server.complete_tokens(
        "tiny", [[5, 6, 7]], n=2, temperature=1.0, top_p=1.0, max_tokens=6, seed=1
    )
    for completion in (one, two):
        assert 1 <= len(completion.token_ids) <= 6 and len(completion.logprobs) == len(completion.token_ids)
        assert all(lp <= 0 for lp in completion.logprobs)

    adapter = tmp_path / "adapter"
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    get_peft_model(base, LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM")).save_pretrained(
        adapter
    )
    server.load_adapter("my-adapter", adapter)
    assert "my-adapter" in server.models()
    client = OpenAI(base_url=rollout_server, api_key=KEY, max_retries=0)
    chat = client.chat.completions.create(
        model="my-adapter", messages=[{"role": "user", "content": "the cat"}], max_completion_tokens=4
    )
    assert chat.model == "my-adapter" and chat.choices[0].message.content is not None
    with pytest.raises(Exception, match="already been loaded"):
        server.load_adapter("my-adapter", adapter)
    server.unload_adapter("my-adapter")
    assert "my-adapter" not in server.models()
    with pytest.raises(Exception, match="not a LoRA adapter folder"):
        server.load_adapter("other", tiny_model_dir)


def _logprobs(model: Any, prompt: list[int], completion: list[int]) -> list[float]:
    import torch

    ids = torch.tensor([prompt + completion])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(prompt) - 1 : -1].float()
    return logits.log_softmax(-1).gather(-1, torch.tensor(completion)[:, None]).squeeze(-1).tolist()


@pytest.mark.slow
def test_grpo_rollouts_come_over_http_from_the_previous_policy_version(
    rollout_server, tiny_model_dir, tmp_path
):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    steps = 3
    config = TrainConfig(
        model=str(tiny_model_dir),
        train_file=write_rows(tmp_path / "train.jsonl", 8),
        valid_file=write_rows(tmp_path / "valid.jsonl", 2),
        grader=A_SHARE,
        out_dir=tmp_path / "job",
        hyperparameters=Hyperparameters(
            lora=True,
            lora_rank=4,
            batch_size=2,
            compute_multiplier=0.5,  # 4 completions per prompt
            learning_rate_multiplier=50,  # 1e-2: each step moves the log-probabilities visibly
            max_completion_length=8,
            max_steps=steps,
            eval_interval=steps,
            seed=0,
        ),
        preflight=False,
        rollout_server=rollout_server,
        rollout_prefix="job-a",
        rollout_keep=steps + 1,  # every version stays, so this test can recompute from each
    )
    os.environ["OPENRFT_ROLLOUT_API_KEY"] = KEY
    try:
        result = run_training(config)
    finally:
        del os.environ["OPENRFT_ROLLOUT_API_KEY"]
    assert result.status == "succeeded"
    loaded = _server(rollout_server).models()
    assert [f"job-a-v{k}" for k in range(steps + 1)] == [m for m in loaded if m.startswith("job-a-")]

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    policies = {
        k: PeftModel.from_pretrained(
            AutoModelForCausalLM.from_pretrained(tiny_model_dir), config.out_dir / "policy" / f"v{k}"
        ).eval()
        for k in range(steps + 1)
    }
    rows = [json.loads(line) for line in (config.out_dir / "rollouts.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, steps + 1))
    for row in rows:
        step = row["step"]
        for group in row["groups"]:
            text = tokenizer.apply_chat_template(group["prompt"], tokenize=False, add_generation_prompt=True)
            prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
            for completion in group["completions"]:
                assert completion["policy"] == f"job-a-v{step - 1}"
                served = completion["logprobs"]
                sampled_by = _logprobs(policies[step - 1], prompt, completion["token_ids"])
                assert served == pytest.approx(sampled_by, abs=2e-4)
            # the check can tell versions apart: the next version gives other log-probabilities
            other = _logprobs(policies[step], prompt, group["completions"][0]["token_ids"])
            assert (
                max(abs(a - b) for a, b in zip(other, group["completions"][0]["logprobs"], strict=True))
                > 2e-3
            )

    # validation sampled the last version on the server too
    assert (config.out_dir / "validation" / f"step-{steps}.jsonl").is_file()

    # an eval through the remote backend, on an adapter loaded there
    data = write_rows(tmp_path / "eval.jsonl", 3)
    grader = tmp_path / "grader.json"
    grader.write_text(json.dumps(A_SHARE))
    evaluated = subprocess.run(
        [sys.executable, "-m", "openrft.cli", "eval", "--model", f"{rollout_server}#job-a-v{steps}",
         "--data", str(data), "--grader", str(grader), "--runs", "1", "--max-tokens", "6",
         "--out", str(tmp_path / "eval")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OPENAI_API_KEY": KEY},
    )  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr
    records = [json.loads(line) for line in (tmp_path / "eval" / "results.jsonl").read_text().splitlines()]
    assert len(records) == 3
    assert {r["model"] for r in records} == {f"{rollout_server}#job-a-v{steps}"}
    assert not any(flags for r in records for flags in r["errors"].values())


@pytest.mark.slow
def test_a_front_server_serves_ft_models_as_adapters_on_the_rollout_server(
    rollout_server, tiny_model_dir, tmp_path
):
    from openai import OpenAI

    env = {"OPENRFT_ROLLOUT_BASE_URL": rollout_server, "OPENRFT_ROLLOUT_API_KEY": KEY,
           "OPENRFT_ADAPTER_SERVER_API_KEY": KEY, "OPENRFT_POLL_SECONDS": "0.2"}  # fmt: skip
    with openrft_serve(
        tmp_path, "--model", f"tiny={tiny_model_dir}", "--adapter-server", rollout_server, env=env
    ) as front:
        client = OpenAI(base_url=front, api_key=KEY, max_retries=0, timeout=120)
        upload = client.files.create(
            file=("train.jsonl", write_rows(tmp_path / "t.jsonl", 4).read_bytes()), purpose="fine-tune"
        )
        job = client.fine_tuning.jobs.create(
            model="tiny",
            training_file=upload.id,
            method={
                "type": "reinforcement",
                "reinforcement": {
                    "grader": A_SHARE,
                    "hyperparameters": {"batch_size": 2, "n_epochs": 1, "compute_multiplier": 0.5},
                },
            },
        )
        job = wait_for(
            lambda: client.fine_tuning.jobs.retrieve(job.id), lambda j: j.status in ("succeeded", "failed")
        )
        events = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
        assert job.status == "succeeded", events
        assert any(f"Rollouts and validations are sampled at {rollout_server}" in m for m in events)
        served = _server(rollout_server).models()
        assert any(m.endswith("-v1") for m in served)  # the job's policy versions were loaded there

        answer = client.chat.completions.create(
            model=job.fine_tuned_model,
            messages=[{"role": "user", "content": "the dog"}],
            max_completion_tokens=4,
        )
        assert answer.model == job.fine_tuned_model
        assert job.fine_tuned_model in _server(rollout_server).models()  # served there, as an adapter
