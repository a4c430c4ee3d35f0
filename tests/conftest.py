"""Fixtures shared by every test package, and the ``needs`` marker (tests/services.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.services import require
from tests.tiny_models import build_tiny_model


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@pytest.mark.needs("postgres", ...)``: skip outside CI, fail in CI, when one is missing."""
    names = [name for marker in item.iter_markers("needs") for name in marker.args]
    if names:
        require(*names)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer Llama chat model with a ChatML template, saved as a checkpoint folder."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))
