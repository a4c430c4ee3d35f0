"""Tiny chat models built in code for tests: a small BPE tokenizer with a ChatML template and
a 2-layer random Llama. Nothing is downloaded (cpu-feasibility reference §3).

Use :func:`build_tiny_model` (or the ``tiny_model_dir`` fixture from ``tests/conftest.py``).
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}"
    "{% endif %}"
)
TOOL_CHATML = (
    "{%- if tools %}<|im_start|>system\nYou may call these tools:\n<tools>\n"
    "{% for tool in tools %}{{ tool | tojson }}\n{% endfor %}</tools>\n"
    'Call one as <tool_call>\n{"name": ..., "arguments": ...}\n</tool_call><|im_end|>\n{% endif %}'
    "{%- for message in messages %}"
    "{%- if message.role == 'tool' %}<|im_start|>user\n<tool_response>\n{{ message.content }}\n"
    "</tool_response><|im_end|>\n"
    "{% elif message.tool_calls %}<|im_start|>assistant\n{% for call in message.tool_calls %}<tool_call>\n"
    "{{ {'name': call.function.name, 'arguments': call.function.arguments} | tojson }}\n</tool_call>"
    "{% endfor %}<|im_end|>\n"
    "{% else %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""ChatML with tools the Hermes/Qwen way: definitions in a system turn, calls as ``<tool_call>`` JSON."""
CORPUS = [
    "user assistant system the cat sat on the mat and the dog ran",
    'json {"result": 0.5, "steps": [{"description": "ok", "conclusion": "yes"}]}',
    "true false null 0123456789 . , : [ ] { } - + e E",
    "Grade the answer. Reference: Paris. Answer: Lyon.",
] * 20


def build_tokenizer(kind: str = "metaspace", corpus: list[str] | None = None) -> Any:
    """A BPE tokenizer trained on ``corpus`` (``metaspace`` or ``bytelevel`` pre-tokenization)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(unk_token="<|endoftext|>"))
    if kind == "metaspace":
        backend.pre_tokenizer = pre_tokenizers.Metaspace()
        backend.decoder = decoders.Metaspace()
        alphabet, size = [*string.printable, "▁"], 160
    else:
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        alphabet, size = pre_tokenizers.ByteLevel.alphabet(), 300
    trainer = trainers.BpeTrainer(
        vocab_size=size,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=alphabet,
        show_progress=False,
    )
    backend.train_from_iterator(corpus or CORPUS, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHATML
    return tokenizer


def build_tiny_model(
    path: Path, *, seed: int = 0, hidden_size: int = 64, layers: int = 2, chat_template: str = CHATML
) -> Path:
    """Save a random tiny Llama chat model (weights + tokenizer) to ``path`` and return it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer()
    tokenizer.chat_template = chat_template
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_hub_cache(model_dir: Path, cache_dir: Path, repo_id: str, *, revision: str = "main") -> str:
    """Put ``model_dir``'s files in a Hugging Face Hub cache at ``cache_dir``, as ``hf download`` would.

    The layout is the Hub cache's own: ``models--ORG--NAME/blobs/<sha256>``, the snapshot's
    files as relative symlinks to them under ``snapshots/<commit>/``, and ``refs/<revision>``
    holding the commit. Returns the (made-up but well-formed) commit hash.
    """
    import hashlib
    import os

    repo = cache_dir / ("models--" + repo_id.replace("/", "--"))
    files = sorted(p for p in model_dir.rglob("*") if p.is_file())
    commit = hashlib.sha1(b"".join(p.read_bytes() for p in files)).hexdigest()
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    for path in files:
        data = path.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snapshot / path.relative_to(model_dir)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / revision).write_text(commit)
    return commit
