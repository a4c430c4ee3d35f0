"""``openrft keys``: a project key made on the command line works against a server on the same
store, is listed without its secret, and stops working once revoked."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from openrft.server.api._auth import CACHE_SECONDS
from tests.server.conftest import run_server


def keys(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "openrft.cli", "keys", *args, "--data-dir", str(data_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_create_list_and_revoke_a_project_key(tmp_path: Path) -> None:
    made = keys("create", "--project", "team-a", "--name", "ci", data_dir=tmp_path)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[1]
    assert key.startswith("sk-proj-") and "cannot be shown again" in made.stdout
    admin = keys("create", "--project", "ops", "--admin", data_dir=tmp_path).stdout.strip().splitlines()[1]

    listed = keys("list", data_dir=tmp_path)
    assert listed.returncode == 0 and "team-a" in listed.stdout and "ops" in listed.stdout
    assert key not in listed.stdout and key.split("_", 1)[1] not in listed.stdout
    key_id = "key_" + key.removeprefix("sk-proj-").split("_", 1)[0]
    assert key_id in listed.stdout

    with run_server(tmp_path) as server:
        me = httpx.get(f"{server.base_url}/openrft/me", headers={"Authorization": f"Bearer {key}"}).json()
        assert (me["project"], me["admin"], me["key_id"]) == ("team-a", False, key_id)
        boss = httpx.get(f"{server.base_url}/openrft/me", headers={"Authorization": f"Bearer {admin}"}).json()
        assert (boss["project"], boss["admin"]) == ("ops", True)

        revoked = keys("revoke", key_id, data_dir=tmp_path)
        assert revoked.returncode == 0 and f"revoked {key_id}" in revoked.stdout
        deadline = time.monotonic() + CACHE_SECONDS + 2
        while (
            httpx.get(f"{server.base_url}/files", headers={"Authorization": f"Bearer {key}"}).status_code
            != 401
        ):
            assert time.monotonic() < deadline, "the revoked key still worked"
            time.sleep(0.2)
    assert key_id not in keys("list", data_dir=tmp_path).stdout
    assert key_id in keys("list", "--revoked", data_dir=tmp_path).stdout


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = keys("create", "--project", "../etc", data_dir=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: project '../etc'")
    missing = keys("revoke", "key_000000000000", data_dir=tmp_path)
    assert missing.returncode == 2 and "No API key found" in missing.stderr
