"""The one reader of the JSONL files openrft writes itself: half-written lines, following a file."""

from __future__ import annotations

from openrft.data import read_jsonl, read_jsonl_from, write_atomic


def test_a_half_written_last_line_and_lines_that_are_not_objects_are_skipped(tmp_path):
    path = tmp_path / "events.jsonl"
    assert read_jsonl(path) == []  # a file not written yet
    path.write_bytes(b'{"a": 1}\n[1, 2]\nnot json\n\n{"b": 2}\n{"c": ')
    assert read_jsonl(path) == [{"a": 1}, {"b": 2}]


def test_following_a_growing_file_returns_each_complete_line_once(tmp_path):
    path = tmp_path / "events.jsonl"
    rows, offset = read_jsonl_from(path, 0)
    assert (rows, offset) == ([], 0)
    path.write_bytes(b'{"step": 1}\n{"step": ')
    rows, offset = read_jsonl_from(path, offset)
    assert rows == [{"step": 1}] and offset == len(b'{"step": 1}\n')
    with path.open("ab") as handle:
        handle.write(b'2}\n{"step": 3}\n')
    rows, offset = read_jsonl_from(path, offset)
    assert rows == [{"step": 2}, {"step": 3}] and offset == path.stat().st_size
    assert read_jsonl_from(path, offset) == ([], offset)


def test_write_atomic_replaces_the_whole_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "job.json"
    write_atomic(path, "old\n")
    write_atomic(path, "new\n")
    assert path.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["job.json"]
