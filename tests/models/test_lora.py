"""LoRA adapter folders: resolved to base + adapter, merged, equal to PEFT's own forward."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from openrft.config import Settings
from openrft.errors import InvalidRequestError
from openrft.models import LocalBackend, LocalChatModel, open_backend, resolve_model_path

CHATS = [
    [{"role": "user", "content": "the cat"}],
    [{"role": "system", "content": "Grade."}, {"role": "user", "content": "Reference: Paris. Answer: Lyon."}],
]


@pytest.fixture(scope="module")
def adapter_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA adapter on the tiny model, with random (non-zero) A and B so that outputs change."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    config = LoraConfig(
        r=4, lora_alpha=32, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False
    )
    torch.manual_seed(0)
    model = get_peft_model(base, config)
    target = tmp_path_factory.mktemp("adapter")
    model.save_pretrained(target)
    assert json.loads((target / "adapter_config.json").read_text())["base_model_name_or_path"] == str(
        tiny_model_dir
    )
    return target


@pytest.fixture(scope="module")
def peft_reference(tiny_model_dir: Path, adapter_dir: Path):
    """The adapter applied by PEFT itself, unmerged."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model = PeftModel.from_pretrained(base, str(adapter_dir)).eval()
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


def _logits(model, tokenizer, text: str) -> torch.Tensor:
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_adapter_folder_loads_as_base_plus_merged_adapter(
    tiny_model_dir, adapter_dir, peft_reference, tmp_path
):
    settings = Settings(cache_dir=tmp_path)
    assert resolve_model_path(str(adapter_dir), tmp_path) == adapter_dir
    backend = open_backend(str(adapter_dir), settings)
    assert isinstance(backend, LocalBackend)
    merged = backend.model
    base = LocalChatModel(tiny_model_dir)
    peft_model, tokenizer = peft_reference
    assert not hasattr(merged.model, "peft_config")  # merged into plain weights

    prompt = merged.render(CHATS[1])
    ours = _logits(merged.model, merged.tokenizer, prompt)
    theirs = _logits(peft_model, tokenizer, prompt)
    original = _logits(base.model, base.tokenizer, prompt)
    assert torch.allclose(ours, theirs, atol=1e-5), (ours - theirs).abs().max()
    assert (ours - original).abs().max() > 0.05

    greedy = merged.generate(CHATS, temperature=0, max_tokens=12)
    by_peft = LocalChatModel.from_loaded(peft_model, tokenizer, name="peft").generate(
        CHATS, temperature=0, max_tokens=12
    )
    assert [r[0].text for r in greedy] == [r[0].text for r in by_peft]
    sampled = merged.generate(CHATS, n=3, temperature=1.0, max_tokens=12, seed=2)
    from_base = base.generate(CHATS, n=3, temperature=1.0, max_tokens=12, seed=2)
    assert [[c.text for c in row] for row in sampled] != [[c.text for c in row] for row in from_base]


def test_adapter_base_resolution_and_errors(tiny_model_dir, adapter_dir, tmp_path):
    # A relative base is also looked for next to the adapter.
    moved = tmp_path / "bundle"
    shutil.copytree(adapter_dir, moved)
    shutil.copytree(tiny_model_dir, moved / "base-model")
    _set_base(moved, "base-model")
    assert resolve_model_path(str(moved), tmp_path) == moved
    assert LocalChatModel(moved, cache_dir=tmp_path).generate(CHATS[:1], temperature=0, max_tokens=3)

    _set_base(moved, "/nowhere/base")
    with pytest.raises(
        InvalidRequestError, match=r"its base model '/nowhere/base' \(base_model_name_or_path"
    ):
        resolve_model_path(str(moved), tmp_path)
    _set_base(moved, None)
    with pytest.raises(InvalidRequestError, match="has no base_model_name_or_path"):
        open_backend(str(moved), Settings(cache_dir=tmp_path))
    _set_base(moved, str(adapter_dir))
    with pytest.raises(InvalidRequestError, match="is another adapter"):
        resolve_model_path(str(moved), tmp_path)
    (moved / "adapter_config.json").write_text("{not json")
    with pytest.raises(InvalidRequestError, match=r"adapter_config\.json cannot be read"):
        resolve_model_path(str(moved), tmp_path)


def _set_base(adapter: Path, base: str | None) -> None:
    path = adapter / "adapter_config.json"
    config = json.loads(path.read_text())
    config["base_model_name_or_path"] = base
    path.write_text(json.dumps(config))
