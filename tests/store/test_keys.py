"""Project API keys: stored hashed, verified in constant time, revocable."""

from __future__ import annotations

import sqlite3

import pytest

from openrft.errors import InvalidRequestError
from openrft.store import KEY_PREFIX, NotFoundError, Store


@pytest.fixture
def store(tmp_path):
    opened = Store(tmp_path)
    yield opened
    opened.close()


def test_a_key_is_shown_once_and_only_its_salted_digest_is_stored(store, tmp_path):
    row, key = store.keys.create("team-a", name="ci")
    assert key.startswith(KEY_PREFIX) and row.project == "team-a" and not row.admin
    secret = key.split("_", 1)[1]
    dump = "\n".join(sqlite3.connect(tmp_path / "openrft.db").iterdump())
    assert key not in dump and secret not in dump
    assert store.keys.verify(key).id == row.id


def test_two_keys_of_one_project_have_different_salts_and_digests(store):
    first, _ = store.keys.create("team-a")
    second, _ = store.keys.create("team-a")
    assert first.salt != second.salt and first.digest != second.digest


WRONG = [
    lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),
    lambda k: k + "x",
    lambda k: k.replace("_", "-", 1),
    lambda k: "sk-proj-",
    lambda k: "",
]


@pytest.mark.parametrize("mangle", WRONG)
def test_a_wrong_key_is_refused(store, mangle):
    _, key = store.keys.create("team-a")
    assert store.keys.verify(mangle(key)) is None


def test_a_revoked_key_is_refused_and_listed_only_on_request(store):
    row, key = store.keys.create("team-a", admin=True)
    other, _ = store.keys.create("team-b")
    store.keys.revoke(row.id)
    assert store.keys.verify(key) is None
    assert [k.id for k in store.keys.list()] == [other.id]
    assert [k.id for k in store.keys.list(project="team-a", revoked=True)] == [row.id]
    with pytest.raises(NotFoundError):
        store.keys.revoke("key_000000000000")


@pytest.mark.parametrize("name", ["", "a b", "../x", "-x", "x" * 65, "a/b"])
def test_project_names_are_plain(store, name):
    with pytest.raises(InvalidRequestError, match="project"):
        store.keys.create(name)
