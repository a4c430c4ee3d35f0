"""Models named by Hugging Face Hub id, resolved from a Hub cache built in the cache's own layout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from openrft.config import Settings
from openrft.errors import BackendUnavailable, InvalidRequestError
from openrft.models import GenerationOptions, HubId, open_backend, parse_hub_id, resolve_model_path
from tests.tiny_models import build_hub_cache


@pytest.fixture
def hub(tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """``org/tiny`` in a fresh Hub cache, offline; the environment a user would set."""
    cache = tmp_path / "hf-cache"
    commit = build_hub_cache(tiny_model_dir, cache, "org/tiny")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return {"cache": cache, "commit": commit, "snapshot": cache / "models--org--tiny" / "snapshots" / commit}


def _env(hub: dict[str, object]) -> dict[str, str]:
    return {**os.environ, "HF_HUB_CACHE": str(hub["cache"]), "HF_HUB_OFFLINE": "1"}


def test_hub_ids_are_told_apart_from_paths_and_names():
    assert parse_hub_id("Qwen/Qwen2.5-1.5B-Instruct") == HubId("Qwen/Qwen2.5-1.5B-Instruct")
    assert parse_hub_id("org/tiny@v1.0") == HubId("org/tiny", "v1.0")
    assert str(parse_hub_id("org/tiny@refs/pr/1")) == "org/tiny@refs/pr/1"
    for value in (
        "smollm2-135m-instruct",
        "./org/tiny",
        "/org/tiny",
        "~/org/tiny",
        "a/b/c",
        "org/x.gguf",
        "o/..",
    ):
        assert parse_hub_id(value) is None, value


def test_a_cached_hub_id_resolves_offline_and_samples(hub, tmp_path):
    assert resolve_model_path("org/tiny", tmp_path) == hub["snapshot"]
    assert resolve_model_path(f"org/tiny@{hub['commit']}", tmp_path) == hub["snapshot"]
    backend = open_backend("org/tiny", Settings(cache_dir=tmp_path))
    try:
        import asyncio

        [[answer]] = asyncio.run(
            backend.sample(
                [[{"role": "user", "content": "the cat"}]], options=GenerationOptions(max_tokens=4)
            )
        )
    finally:
        backend.close()
    assert backend.name == "org/tiny" and answer.completion_tokens >= 1


def test_an_existing_folder_wins_over_a_hub_id_of_the_same_spelling(
    hub, tmp_path, tiny_model_dir, monkeypatch
):
    (tmp_path / "org").mkdir()
    (tmp_path / "org" / "tiny").symlink_to(tiny_model_dir)
    monkeypatch.chdir(tmp_path)
    assert resolve_model_path("org/tiny", tmp_path) == Path("org/tiny")


def test_offline_misses_gated_and_unknown_revisions_are_one_line(hub, tmp_path):
    with pytest.raises(BackendUnavailable) as missing:
        resolve_model_path("org/absent", tmp_path)
    message = str(missing.value)
    assert "\n" not in message
    assert "org/absent" in message and "HF_HUB_OFFLINE is set" in message
    assert "hf download org/absent" in message
    with pytest.raises(BackendUnavailable, match=r"hf download org/tiny --revision v2"):
        resolve_model_path("org/tiny@v2", tmp_path)


def test_without_a_network_an_uncached_id_names_the_fetch_command(hub, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: connection refused
    with pytest.raises(BackendUnavailable) as missing:
        resolve_model_path("org/absent", tmp_path)
    assert "cannot be reached" in str(missing.value) and "hf download org/absent" in str(missing.value)
    # the cached one still resolves: the Hub is asked, does not answer, and the cache serves it
    assert resolve_model_path("org/tiny", tmp_path) == hub["snapshot"]


def test_a_snapshot_without_weights_is_refused(hub, tmp_path, tiny_model_dir):
    config_only = tmp_path / "config-only"
    config_only.mkdir()
    (config_only / "config.json").write_text((tiny_model_dir / "config.json").read_text())
    build_hub_cache(config_only, Path(hub["cache"]), "org/config-only")
    with pytest.raises(InvalidRequestError, match=r"no config\.json and safetensors weights"):
        resolve_model_path("org/config-only", tmp_path)


def _openrft(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openrft.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


@pytest.mark.slow
def test_eval_and_train_take_a_hub_id(hub, tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_text(
        "".join(
            json.dumps({"messages": [{"role": "user", "content": f"the cat {i}"}], "a": "t"}) + "\n"
            for i in range(4)
        )
    )
    grader = tmp_path / "grader.json"
    grader.write_text(
        json.dumps(
            {"type": "string_check", "input": "{{sample.output_text}}", "reference": "t", "operation": "like"}
        )
    )
    evaluated = _openrft(
        "eval", "--model", "org/tiny", "--data", str(data), "--grader", str(grader),
        "--max-tokens", "4", "--runs", "1", "--out", str(tmp_path / "eval"), cwd=tmp_path, env=_env(hub),
    )  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr
    records = [json.loads(line) for line in (tmp_path / "eval" / "results.jsonl").read_text().splitlines()]
    assert {r["model"] for r in records} == {"org/tiny"} and len(records) == 4

    sets = ("max_steps=1", "max_completion_length=4", "batch_size=2", "lora=false")
    trained = _openrft(
        "train", "--model", "org/tiny", "--train", str(data), "--grader", str(grader),
        *(a for s in sets for a in ("--set", s)), "--skip-preflight", "--out", str(tmp_path / "job"),
        cwd=tmp_path, env=_env(hub),
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert (tmp_path / "job" / "best" / "model.safetensors").is_file()

    missing = _openrft(
        "eval", "--model", "org/absent", "--data", str(data), "--grader", str(grader),
        "--out", str(tmp_path / "eval2"), cwd=tmp_path, env=_env(hub),
    )  # fmt: skip
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    [line] = [line for line in missing.stderr.splitlines() if line.startswith("error:")]
    assert "org/absent" in line and "hf download org/absent" in line


@pytest.mark.slow
def test_serve_offers_a_hub_model_by_name(hub, tmp_path):
    from openai import OpenAI

    from tests.server.test_rollout_server import KEY, openrft_serve

    env = {"HF_HUB_CACHE": str(hub["cache"]), "HF_HUB_OFFLINE": "1"}
    with openrft_serve(tmp_path, "--no-worker", "--model", "tiny=org/tiny", env=env) as url:
        client = OpenAI(base_url=url, api_key=KEY, max_retries=0)
        assert "tiny" in [m.id for m in client.models.list()]
        answer = client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "the cat"}], max_completion_tokens=3
        )
        assert answer.model == "tiny" and answer.usage.completion_tokens >= 1
    refused = _openrft(
        "serve", "--model", "x=org/absent", "--data-dir", str(tmp_path / "d"), cwd=tmp_path, env=_env(hub)
    )
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    [line] = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert "org/absent" in line and "hf download org/absent" in line


def test_the_api_takes_only_the_hub_ids_the_operator_allows(hub, tmp_path):
    import openai

    from tests.server.conftest import run_server

    with run_server(tmp_path / "data", hub_models=["org/tiny"]) as running:
        client = running.client()
        assert "org/tiny" in [m.id for m in client.models.list()]
        assert client.models.retrieve("org/tiny").id == "org/tiny"
        answer = client.chat.completions.create(
            model="org/tiny", messages=[{"role": "user", "content": "the cat"}], max_completion_tokens=3
        )
        assert answer.model == "org/tiny"
        with pytest.raises(openai.NotFoundError, match="does not exist"):
            client.chat.completions.create(
                model="org/other", messages=[{"role": "user", "content": "the cat"}], max_completion_tokens=3
            )
