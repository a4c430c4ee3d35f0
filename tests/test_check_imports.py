"""scripts/check_imports.py: the import rules catch what they promise, and the tree keeps them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_imports.py"


@pytest.fixture(scope="module")
def check():
    spec = importlib.util.spec_from_file_location("check_imports", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = root / "openrft" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root


def test_each_rule_reports_its_violation(tmp_path, check, capsys):
    src = write_tree(
        tmp_path,
        {
            "__init__.py": "",
            "errors.py": "",
            "graders/__init__.py": "from openrft.graders import _a\n",
            "graders/_a.py": "def late():\n    from openrft.store import Store\n",  # upward, lazily
            "store/__init__.py": "from . import _b\n",
            "store/_b.py": "from openrft.store import _c\n",
            "store/_c.py": "from openrft.store._b import thing\n",  # cycle _b <-> _c
            "models/__init__.py": "",
            "models/_lora.py": "from openrft.models._resolve import x\n",
            "models/_resolve.py": "from openrft.models._lora import y\n",  # the allowed recursion
            "server/__init__.py": "",
            "server/_shared/__init__.py": "from openrft.server.worker import loop\n",
            "server/api/__init__.py": "from openrft.server.worker._loop import Worker\n",
            "server/worker/__init__.py": "",
            "server/worker/_loop.py": "import openrft.server.api\nfrom openrft.errors import E\n",
        },
    )
    assert check.main([str(src)], pending=set()) == 1
    printed = capsys.readouterr().out.splitlines()
    assert "upward import: openrft.graders._a (layer 3) imports openrft.store (layer 5)" in printed
    assert any(
        line.startswith("plane crossing: openrft.server.api imports openrft.server.worker._loop")
        for line in printed
    )
    assert any(
        line.startswith("plane crossing: openrft.server.worker._loop imports openrft.server.api")
        for line in printed
    )
    assert any(line.startswith("plane crossing: openrft.server._shared imports") for line in printed)
    assert "import cycle: openrft.store._b -> openrft.store._c -> openrft.store._b" in printed
    assert not any("_lora" in line for line in printed)
    assert printed[-1].endswith("imports: 6 failure(s) (0 pending)")


def test_a_pending_entry_does_not_fail_until_it_is_fixed(tmp_path, check, capsys):
    cycle = "import cycle: openrft.data._x -> openrft.data._y -> openrft.data._x"
    files = {"__init__.py": "", "data/__init__.py": "", "data/_x.py": "import openrft.data._y\n"}
    src = write_tree(tmp_path, {**files, "data/_y.py": "import openrft.data._x\n"})
    assert check.main([str(src)], pending={cycle}) == 0
    (src / "openrft" / "data" / "_y.py").write_text("")  # fixed: the entry must now go
    assert check.main([str(src)], pending={cycle}) == 1
    assert "fixed, remove it from PENDING" in capsys.readouterr().out


def test_the_source_tree_keeps_the_rules(check, capsys):
    assert check.main([]) == 0, capsys.readouterr().out
