"""Reading RFT JSONL: every problem kind names FILE:LINE, all problems are reported, limits hold."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from openrft.config import Settings
from openrft.data import DatasetError, DatasetLimits, check_rft_jsonl, load_rft_jsonl
from openrft.errors import InvalidRequestError

GOOD = {"messages": [{"role": "user", "content": "2+2?"}], "reference_answer": "4"}


def write_lines(tmp_path: Path, *lines: str | bytes, name: str = "data.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines))
    return path


_questions = itertools.count()


def row(**fields: object) -> str:
    """A valid line; each call asks a different question (repeated prompts are warned about)."""
    return json.dumps({"messages": [{"role": "user", "content": f"q{next(_questions)}"}], **fields})


def only_problem(path: Path, split: str = "train", limits: DatasetLimits | None = None) -> str:
    with pytest.raises(DatasetError) as caught:
        load_rft_jsonl(path, split=split, limits=limits)  # type: ignore[arg-type]
    assert len(caught.value.problems) == 1, caught.value.problems
    return caught.value.problems[0]


def test_a_good_file_reads_rows_with_line_numbers_and_items(tmp_path):
    path = write_lines(tmp_path, json.dumps(GOOD), row(reference_answer="5", extra={"k": [1]}))
    dataset = load_rft_jsonl(path, split="valid")
    assert (dataset.path, dataset.split, len(dataset)) == (path, "valid", 2)
    assert [r.line for r in dataset.rows] == [1, 2]
    assert dataset.rows[0].messages == [{"role": "user", "content": "2+2?"}]
    assert dataset.rows[0].item == {"reference_answer": "4"}
    assert dataset.rows[1].item == {"reference_answer": "5", "extra": {"k": [1]}}
    assert dataset.warnings == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"messages": [}', "data.jsonl:2: invalid JSON at column 15: Expecting value"),
        (
            '{"messages": [{"role": "user", "content": NaN}]}',
            "data.jsonl:2: invalid JSON: NaN is not valid JSON",
        ),
        ("[1, 2]", "data.jsonl:2: expected a JSON object, got an array"),
        ('"text"', "data.jsonl:2: expected a JSON object, got a str"),
        ('{"reference_answer": "4"}', "data.jsonl:2: missing 'messages'"),
        ('{"messages": []}', "data.jsonl:2: 'messages' is empty"),
        ('{"messages": "hi"}', "data.jsonl:2: 'messages' must be a list of messages, not a string"),
        ('{"messages": ["hi"]}', "data.jsonl:2: messages[0]: a message must be an object, not a string"),
        ('{"messages": [{"content": "hi"}]}', "data.jsonl:2: messages[0]: missing 'role'"),
        (
            '{"messages": [{"role": "robot", "content": "hi"}]}',
            "data.jsonl:2: messages[0].role: 'robot' is not one of developer, user, assistant, tool",
        ),
        ('{"messages": [{"role": "user"}]}', "data.jsonl:2: messages[0]: missing 'content'"),
        (
            '{"messages": [{"role": "user", "content": 42}]}',
            "data.jsonl:2: messages[0].content: must be a string or a list of text parts, not a number",
        ),
        (
            '{"messages": [{"role": "user", "content": null}]}',
            "data.jsonl:2: messages[0].content: must be a string or a list of text parts, not null",
        ),
        (
            '{"messages": [{"role": "user", "content": []}]}',
            "data.jsonl:2: messages[0].content: is an empty list",
        ),
        (
            '{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}',
            "data.jsonl:2: messages[0].content[0].type: 'image_url': only text parts are supported",
        ),
        (
            '{"messages": [{"role": "user", "content": [{"type": "text", "text": 7}]}]}',
            "data.jsonl:2: messages[0].content[0].text: must be a string, not a number",
        ),
        (
            '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}',
            "data.jsonl:2: messages[1]: the prompt ends with an assistant message",
        ),
        (
            '{"messages": [{"role": "tool", "content": "42"}]}',
            "data.jsonl:2: messages[0]: a tool message needs a string 'tool_call_id'",
        ),
        (
            '{"messages": [{"role": "user", "content": "q"}], "tools": [{"type": "retrieval"}]}',
            "data.jsonl:2: tools[0].type: 'retrieval': only 'function' tools are supported",
        ),
        (
            '{"messages": [{"role": "user", "content": "q"}], "tools": {"type": "function"}}',
            "data.jsonl:2: 'tools' must be a list of tool definitions, not an object",
        ),
    ],
)
def test_each_problem_names_file_line_and_what_is_wrong(tmp_path, line, expected):
    path = write_lines(tmp_path, row(), line, row())
    problem = only_problem(path)
    assert problem.startswith(str(path.parent) + "/")
    assert expected in problem


def test_invalid_utf8_names_the_line_and_byte(tmp_path):
    latin1 = b'{"messages": [{"role": "user", "content": "caf\xe9"}]}'
    path = write_lines(tmp_path, row(), latin1)
    byte = latin1.index(b"\xe9") + 1
    assert only_problem(path).endswith(
        f"data.jsonl:2: invalid UTF-8 at byte {byte} of the line (the file must be UTF-8)"
    )


def test_a_line_over_the_byte_limit_is_reported_with_its_size(tmp_path):
    long_row = row(reference_answer="x" * 3000)
    path = write_lines(tmp_path, row(), long_row, row())
    limits = DatasetLimits(max_line_bytes=2048)
    problem = only_problem(path, limits=limits)
    assert problem.endswith(
        f"data.jsonl:2: the line is {len(long_row):,} bytes, over the limit of 2,048 (OPENRFT_MAX_LINE_BYTES)"
    )
    assert load_rft_jsonl(path, limits=DatasetLimits(max_line_bytes=4096)).rows[1].line == 2


def test_the_last_line_over_the_limit_without_a_newline_is_caught(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(row() + "\n" + row(reference_answer="y" * 5000))
    assert "data.jsonl:2: the line is" in only_problem(path, limits=DatasetLimits(max_line_bytes=1024))


def test_row_limits_depend_on_the_split(tmp_path):
    path = write_lines(tmp_path, *[row(reference_answer=str(i)) for i in range(4)])
    limits = DatasetLimits(max_train_rows=4, max_valid_rows=3)
    assert len(load_rft_jsonl(path, split="train", limits=limits)) == 4
    problem = only_problem(path, split="valid", limits=limits)
    assert problem.endswith(
        "data.jsonl:4: row 4 is over the limit of 3 rows for a valid file (OPENRFT_MAX_VALID_ROWS)"
    )


def test_limits_come_from_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENRFT_MAX_VALID_ROWS", "1")
    assert DatasetLimits.from_settings() == DatasetLimits(max_valid_rows=1)
    assert Settings().max_train_rows == 50_000
    path = write_lines(tmp_path, row(), row(reference_answer="5"))
    assert "row 2 is over the limit of 1 rows" in only_problem(path, split="valid")


def test_a_file_with_several_problems_reports_every_one_in_order(tmp_path):
    path = write_lines(
        tmp_path,
        row(),
        "{bad",
        '{"messages": [{"role": "robot", "content": 1}, "x"]}',
        row(),
        "[]",
    )
    with pytest.raises(DatasetError) as caught:
        load_rft_jsonl(path)
    problems = caught.value.problems
    assert [p.split(": ")[0].rsplit(":", 1)[1] for p in problems] == ["2", "3", "3", "5"]
    assert "messages[0].role: 'robot'" in problems[1]
    assert "messages[1]: a message must be an object" in problems[2]
    message = caught.value.message
    assert message.startswith(f"{path}: 4 problems in this train file: {problems[0]}; ")
    assert "… and 1 more (openrft data validate" in message
    assert isinstance(caught.value, InvalidRequestError)
    assert (caught.value.param, caught.value.code) == ("training_file", "invalid_file")


def test_report_without_raising_keeps_the_good_rows(tmp_path):
    path = write_lines(tmp_path, row(), "{bad", row(reference_answer="9"))
    report = check_rft_jsonl(path, "valid")
    assert not report.ok
    assert [r.line for r in report.rows] == [1, 3]
    with pytest.raises(DatasetError):
        report.dataset()


def test_bom_crlf_and_blank_lines_are_tolerated_and_blank_lines_reported(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + (json.dumps(GOOD) + "\r\n\r\n" + row() + "\r\n  \r\n").encode())
    dataset = load_rft_jsonl(path)
    assert [r.line for r in dataset.rows] == [1, 3]
    assert dataset.rows[0].item == {"reference_answer": "4"}
    assert dataset.warnings == [
        f"{path}:1: UTF-8 byte-order mark at the start of the file ignored",
        f"{path}:2: blank line skipped (and 1 more: line 4)",
    ]


def test_system_role_and_text_parts_are_normalised_with_a_warning(tmp_path):
    parts = [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}]
    line = json.dumps(
        {"messages": [{"role": "system", "content": "rules"}, {"role": "user", "content": parts}]}
    )
    path = write_lines(tmp_path, line)
    dataset = load_rft_jsonl(path)
    assert dataset.rows[0].messages == [
        {"role": "developer", "content": "rules"},
        {"role": "user", "content": "first\nsecond"},
    ]
    assert any("role 'system' read as 'developer'" in w for w in dataset.warnings)
    assert any("content given as text parts" in w for w in dataset.warnings)


def test_assistant_turns_in_the_middle_and_tool_calls_are_accepted(tmp_path):
    messages = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    tools = [{"type": "function", "function": {"name": "weather"}}]
    path = write_lines(tmp_path, json.dumps({"messages": messages, "tools": tools}))
    dataset = load_rft_jsonl(path)
    assert dataset.rows[0].messages[1]["tool_calls"][0]["id"] == "c1"
    assert dataset.rows[0].item == {"tools": tools}


def test_duplicate_prompts_are_reported_as_warnings(tmp_path):
    same = json.dumps(GOOD)
    path = write_lines(tmp_path, same, row(), same, same)
    assert load_rft_jsonl(path).warnings == [
        f"{path}:3: same messages as an earlier row (and 1 more: line 4)"
    ]


def test_an_empty_or_missing_file_is_a_problem(tmp_path):
    empty = write_lines(tmp_path, "", "  ", name="empty.jsonl")
    assert only_problem(empty).endswith("empty.jsonl:1: the file holds no rows")
    missing = tmp_path / "nope.jsonl"
    assert only_problem(missing) == f"{missing}: no such file"
    assert "cannot read" in only_problem(tmp_path)


def test_an_unknown_split_is_refused(tmp_path):
    with pytest.raises(InvalidRequestError, match="split 'test' is not one of train, valid"):
        check_rft_jsonl(write_lines(tmp_path, row()), "test")  # type: ignore[arg-type]
