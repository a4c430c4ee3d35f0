"""Models named by their Hugging Face Hub id (``Qwen/Qwen2.5-1.5B-Instruct``, ``org/name@revision``).

A Hub id resolves to a snapshot folder in ``huggingface_hub``'s own cache (``HF_HUB_CACHE``,
else ``HF_HOME/hub``, else ``~/.cache/huggingface/hub``), so a model downloaded once by
``hf download``, transformers, vLLM or openrft is found by all of them. The weights, tokenizer
and chat template all come from that one snapshot.

Downloads happen when the network allows; ``HF_HUB_OFFLINE=1`` (read at call time, not at
import) keeps resolution to the cache. Every failure (offline and not cached, gated, missing,
unknown revision) is one :class:`~openrft.errors.InvalidRequestError` or
:class:`~openrft.errors.BackendUnavailable` line that names the model and the command that
fetches it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from openrft.errors import BackendUnavailable, InvalidRequestError

# Hub repo names: letters, digits, '-', '_', '.'; one '/' between owner and name.
_HUB_ID = re.compile(
    r"(?P<repo>[A-Za-z0-9][\w.\-]{0,95}/[A-Za-z0-9][\w.\-]{0,95})(?:@(?P<rev>[\w.\-/]{1,200}))?"
)

# What a causal LM needs to load with transformers: configs, safetensors weights, tokenizer
# files and chat templates. Other weight formats (.bin, .gguf, .onnx, .pth) are never fetched.
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja", "*.tiktoken", "tokenizer*"]

_TRUE = {"1", "ON", "YES", "TRUE"}


@dataclass(frozen=True)
class HubId:
    repo: str
    """``owner/name``."""
    revision: str | None = None
    """A branch, tag or commit; ``None`` is the repo's default branch."""

    def __str__(self) -> str:
        return f"{self.repo}@{self.revision}" if self.revision else self.repo

    @property
    def fetch_command(self) -> str:
        """The shell command that puts this model in the cache."""
        revision = f" --revision {self.revision}" if self.revision else ""
        return f"hf download {self.repo}{revision}"


def parse_hub_id(value: str) -> HubId | None:
    """``value`` as a Hub id, or ``None`` when it does not have the ``owner/name[@revision]`` shape.

    Path-like values (``./x/y``, ``/x/y``, ``~/x``) and ``.gguf`` files are never Hub ids.
    """
    text = value.strip()
    if text.startswith(("/", ".", "~")) or text.lower().endswith(".gguf"):
        return None
    match = _HUB_ID.fullmatch(text)
    if match is None or ".." in match["repo"]:
        return None
    return HubId(match["repo"], match["rev"])


def hub_cache_dir() -> Path:
    """The Hub cache, from the environment as it is now (``huggingface_hub`` reads it at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set now."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in _TRUE


def resolve_hub_model(hub_id: HubId) -> Path:
    """The local snapshot folder of ``hub_id``, downloaded first when needed and allowed."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    cache = hub_cache_dir()
    offline = hub_offline()
    try:
        folder = snapshot_download(
            hub_id.repo,
            revision=hub_id.revision,
            cache_dir=cache,
            local_files_only=offline,
            allow_patterns=ALLOW_PATTERNS,
        )
    except GatedRepoError:
        raise BackendUnavailable(
            f"model {hub_id} is gated on the Hugging Face Hub: accept its terms at "
            f"https://huggingface.co/{hub_id.repo}, then log in (`hf auth login` or HF_TOKEN) and run "
            f"`{hub_id.fetch_command}`",
            code="model_gated",
        ) from None
    except RepositoryNotFoundError:
        raise InvalidRequestError(
            f"model {hub_id}: no such model on the Hugging Face Hub (a private one needs `hf auth login`)",
            param="model",
            code="model_not_found",
        ) from None
    except RevisionNotFoundError:
        raise InvalidRequestError(
            f"model {hub_id}: the Hub repo {hub_id.repo} has no revision {hub_id.revision!r}",
            param="model",
            code="model_not_found",
        ) from None
    except LocalEntryNotFoundError:
        why = "HF_HUB_OFFLINE is set" if offline else "the Hugging Face Hub cannot be reached"
        raise BackendUnavailable(
            f"model {hub_id} is not in the Hugging Face cache {cache} and {why}: "
            f"run `{hub_id.fetch_command}` where the network allows (same HF_HUB_CACHE)",
            code="model_not_cached",
        ) from None
    except (HfHubHTTPError, OSError, ValueError) as exc:  # incomplete snapshot, disk, bad reply
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BackendUnavailable(
            f"model {hub_id} could not be fetched from the Hugging Face Hub ({first_line}); "
            f"retry with `{hub_id.fetch_command}`",
            code="model_not_cached",
        ) from None
    path = Path(folder)
    if not (path / "config.json").is_file() or not any(path.glob("*.safetensors")):
        raise InvalidRequestError(
            f"model {hub_id}: its Hub snapshot has no config.json and safetensors weights, "
            "so transformers cannot load it",
            param="model",
            code="model_not_supported",
        )
    return path
