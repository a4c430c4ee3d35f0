"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tiny_models import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer Llama chat model with a ChatML template, saved as a checkpoint folder."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))
