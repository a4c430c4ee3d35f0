"""Files through the official client: upload, list with pagination, retrieve, content, delete; bad uploads."""

from __future__ import annotations

import io

import httpx
import openai
import pytest
from openai.types import FileDeleted, FileObject

from tests.server.conftest import rft_rows, run_server


def test_upload_list_retrieve_content_delete(server):
    client = server.lenient_client()  # files of purpose "evals", which OpenAI's SDK types leave out
    data = rft_rows(3)
    uploaded = client.files.create(file=("train.jsonl", io.BytesIO(data)), purpose="fine-tune")
    assert isinstance(uploaded, FileObject)
    assert uploaded.id.startswith("file-") and uploaded.bytes == len(data) and uploaded.purpose == "fine-tune"
    assert uploaded.filename == "train.jsonl" and uploaded.status == "processed"
    # The bytes live under the server's own id, never under the client's name.
    assert (server.data_dir / "files" / uploaded.id).read_bytes() == data

    assert client.files.retrieve(uploaded.id).model_dump() == uploaded.model_dump()
    assert client.files.content(uploaded.id).read() == data
    evals_file = client.files.create(
        file=("items.jsonl", io.BytesIO(b'{"item": {"q": 1}}\n')), purpose="evals"
    )
    assert evals_file.purpose == "evals"

    listed = client.files.list(purpose="fine-tune")
    assert uploaded.id in [f.id for f in listed.data] and evals_file.id not in [f.id for f in listed.data]

    deleted = client.files.delete(uploaded.id)
    assert isinstance(deleted, FileDeleted) and deleted.deleted and deleted.id == uploaded.id
    assert not (server.data_dir / "files" / uploaded.id).exists()
    with pytest.raises(openai.NotFoundError) as caught:
        client.files.retrieve(uploaded.id)
    assert caught.value.body["param"] == "file_id"  # type: ignore[index]


def test_pagination_walks_every_file_once_in_order(server, tmp_path):
    with run_server(tmp_path / "data") as fresh:
        client = fresh.lenient_client()  # purpose "evals" (see Running.lenient_client)
        ids = [
            client.files.create(file=(f"f{i}.jsonl", io.BytesIO(b'{"item": {}}\n')), purpose="evals").id
            for i in range(5)
        ]
        first = client.files.list(limit=2, order="asc")
        assert [f.id for f in first.data] == ids[:2] and first.has_more
        seen = [f.id for f in client.files.list(limit=2, order="asc")]  # iterating fetches every page
        assert seen == ids
        newest_first = client.files.list(limit=10)
        assert [f.id for f in newest_first.data] == ids[::-1] and not newest_first.has_more


@pytest.mark.parametrize(
    ("name", "content", "purpose", "param"),
    [
        ("train.jsonl", b'{"messages": "not a list"}\n', "fine-tune", "file"),
        ("train.jsonl", b"not json\n", "fine-tune", "file"),
        ("items.jsonl", b"[1, 2]\n", "evals", "file"),
        ("train.jsonl", b'{"item": {}}\n', "batch", "purpose"),
        ("../../etc/cron.d/x.jsonl", b'{"item": {}}\n', "evals", "file"),
        ("a\\..\\b.jsonl", b'{"item": {}}\n', "evals", "file"),
    ],
)
def test_bad_uploads_get_a_400_naming_the_field(client, server, name, content, purpose, param):
    before = set((server.data_dir / "files").iterdir())
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(file=(name, io.BytesIO(content)), purpose=purpose)  # type: ignore[arg-type]
    error = caught.value.body
    assert error["param"] == param and error["type"] == "invalid_request_error"  # type: ignore[index]
    assert set((server.data_dir / "files").iterdir()) == before  # nothing kept on disk


def test_a_fine_tune_file_is_checked_line_by_line(client):
    lines = rft_rows(2) + b'{"messages": []}\n'
    with pytest.raises(openai.BadRequestError) as caught:
        client.files.create(file=("train.jsonl", io.BytesIO(lines)), purpose="fine-tune")
    assert "train.jsonl:3" in caught.value.body["message"]  # type: ignore[index]


def test_oversize_uploads_get_413_and_leave_nothing(tmp_path):
    with run_server(tmp_path / "data", max_upload_bytes=1000) as small:
        client = small.client()
        assert (
            client.files.create(file=("ok.jsonl", io.BytesIO(rft_rows(1))), purpose="fine-tune").bytes < 1000
        )
        big = rft_rows(200)  # ~16 kB: over the limit, within the multipart allowance -> counted while stored
        huge = b'{"item": {}}\n' * 20_000  # ~260 kB: refused from Content-Length before any parsing
        for payload in (big, huge):
            with pytest.raises(openai.APIStatusError) as caught:
                client.files.create(file=("big.jsonl", io.BytesIO(payload)), purpose="fine-tune")
            assert caught.value.status_code == 413
            assert caught.value.body["code"] == "file_too_large"  # type: ignore[index]
        # A chunked body (no Content-Length) is cut off as it streams in.
        boundary = "b0undary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nevals\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.jsonl"\r\n\r\n'
        ).encode()

        def chunks():
            yield head
            for _ in range(200):
                yield b'{"item": {}}\n' * 100
            yield f"\r\n--{boundary}--\r\n".encode()

        response = httpx.post(
            f"{small.base_url}/files",
            content=chunks(),
            headers={**small.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert response.status_code == 413 and response.json()["error"]["code"] == "file_too_large"
        assert len(list((small.data_dir / "files").iterdir())) == 1
