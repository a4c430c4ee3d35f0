"""Two projects on one server: project B's key cannot see, change, delete or reference project A's
resources, checked for every operation of the OpenAPI document (``app.openapi()``, not a list
written here).

Each project gets one of everything (files, a job with events, checkpoints, metrics and an
``ft:`` model, an eval with a run and an output item, a saved grader, a stored response), made
through the API with its own key (what only a worker writes is put in the store). Then, for
each operation, with B's key:

* an operation on a path that names A's resources answers exactly what it answers for ids
  that do not exist (status and body, the id aside); so does B's own parent with A's child
  (B's eval, A's run);
* a body that references A's resource (a job's training file or model, a run's file or model,
  chat on A's ``ft:`` model) answers exactly what the same body with an unknown id answers;
* a list, or anything else B reads, never mentions an id or a marker of A's;
* afterwards every read A makes returns what it returned before B started.

An operation this test cannot build (a new path parameter or body schema) fails it: teach it
how B could reach A's resources through the new route.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from openrft.server.api._auth import CACHE_SECONDS
from openrft.store import CheckpointRow, ModelRow, OutputItemRow, OutputItemStatus, new_id
from tests.server.conftest import Running, rft_rows, run_server, wait_for

STRING_CHECK = {
    "type": "string_check",
    "name": "exact",
    "input": "{{sample.output_text}}",
    "reference": "{{item.answer}}",
    "operation": "eq",
}
METHOD = {"type": "reinforcement", "reinforcement": {"grader": STRING_CHECK}}


@dataclass
class Project:
    """One project's key and the id of each of its resources, by path-parameter name."""

    name: str
    key: str
    ids: dict[str, str] = field(default_factory=dict)
    marker: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def _ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, (response.request.method, response.request.url, response.text)
    return response.json()


def _populate(http: httpx.Client, running: Running, project: Project, model_dir: Path) -> None:
    """One of every resource for ``project``, through the API (and the store for worker output)."""
    h, marker = project.headers, project.marker
    files = {"file": (f"{marker}.jsonl", rft_rows(4, secret=marker), "application/jsonl")}
    project.ids["file_id"] = _ok(
        http.post("/v1/files", headers=h, files=files, data={"purpose": "fine-tune"})
    )["id"]
    rows = b"".join(
        json.dumps({"item": {"answer": "a", "secret": marker}}).encode() + b"\n" for _ in range(2)
    )
    evals_file = {"file": ("items.jsonl", rows, "application/jsonl")}
    project.ids["evals_file"] = _ok(
        http.post("/v1/files", headers=h, files=evals_file, data={"purpose": "evals"})
    )["id"]
    grader = {"name": marker, "grader": STRING_CHECK}
    project.ids["grader_id"] = _ok(http.post("/v1/openrft/graders", headers=h, json=grader))["id"]
    job = {
        "model": "tiny",
        "training_file": project.ids["file_id"],
        "method": METHOD,
        "metadata": {"secret": marker},
    }
    job_id = project.ids["fine_tuning_job_id"] = _ok(http.post("/v1/fine_tuning/jobs", headers=h, json=job))[
        "id"
    ]
    ev = {
        "name": marker,
        "metadata": {"secret": marker},
        "testing_criteria": [STRING_CHECK],
        "data_source_config": {
            "type": "custom",
            "item_schema": {"type": "object"},
            "include_sample_schema": True,
        },
    }
    eval_id = project.ids["eval_id"] = _ok(http.post("/v1/evals", headers=h, json=ev))["id"]
    source = {
        "type": "file_content",
        "content": [{"item": {"answer": "a"}, "sample": {"output_text": marker}}],
    }
    run = {"name": marker, "data_source": {"type": "jsonl", "source": source}}
    run_id = project.ids["run_id"] = _ok(http.post(f"/v1/evals/{eval_id}/runs", headers=h, json=run))["id"]
    answer = {"model": "tiny", "input": "hello", "max_output_tokens": 4}
    project.ids["response_id"] = _ok(http.post("/v1/responses", headers=h, json=answer))["id"]
    # What a worker writes: an output item, a checkpoint and the job's ft: model, metrics, rollouts.
    store = running.store
    item_id = project.ids["output_item_id"] = new_id("outputitem_")
    store.add(
        OutputItemRow(
            id=item_id,
            run_id=run_id,
            eval_id=eval_id,
            created_at=1,
            status=OutputItemStatus.PASS,
            datasource_item_id=0,
            datasource_item={"secret": marker},
            results=[],
            sample=None,
        )
    )
    name = project.ids["model"] = f"ft:tiny:openrft:{project.name}:{job_id.removeprefix('ftjob-')}"
    common = {"created_at": 1, "owned_by": "openrft", "job_id": job_id, "project": project.name}
    store.put_checkpoint(
        CheckpointRow(
            id=new_id("ftckpt_"),
            job_id=job_id,
            created_at=1,
            step_number=1,
            fine_tuned_model_checkpoint=f"{name}:ckpt-step-1",
            metrics={},
            path=str(model_dir),
        ),
        ModelRow(id=f"{name}:ckpt-step-1", kind="checkpoint", path=str(model_dir), **common),
    )
    store.put_model(ModelRow(id=name, kind="fine-tuned", path=str(model_dir), **common))
    folder = store.job_dir(job_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.jsonl").write_text(json.dumps({"step": 1, "secret": marker}) + "\n")
    (folder / "rollouts.jsonl").write_text(json.dumps({"step": 1, "groups": [{"secret": marker}]}) + "\n")


ABSENT = {
    "file_id": "file-" + "0" * 24,
    "evals_file": "file-" + "1" * 24,
    "grader_id": "grader_" + "0" * 24,
    "fine_tuning_job_id": "ftjob-" + "0" * 24,
    "eval_id": "eval_" + "0" * 32,
    "run_id": "evalrun_" + "0" * 32,
    "output_item_id": "outputitem_" + "0" * 32,
    "model": "ft:tiny:openrft:absent:" + "0" * 24,
    "response_id": "resp_" + "0" * 48,
}
"""Ids of the same shape that name nothing: what A's ids must look like to B."""


# --- request bodies: (label, body) for each schema, naming `refs` (the target's) and `own` (B's) ---

Refs = dict[str, str]


def _job(refs: Refs, own: Refs) -> list[tuple[str, Any]]:
    return [
        ("training_file", {"model": "tiny", "training_file": refs["file_id"], "method": METHOD}),
        (
            "validation_file",
            {
                "model": "tiny",
                "training_file": own["file_id"],
                "validation_file": refs["file_id"],
                "method": METHOD,
            },
        ),
        ("model", {"model": refs["model"], "training_file": own["file_id"], "method": METHOD}),
    ]


def _run(refs: Refs, own: Refs) -> list[tuple[str, Any]]:
    template = {"type": "template", "template": [{"role": "user", "content": "{{item.answer}}"}]}
    content = {"type": "file_content", "content": [{"item": {"answer": "a"}}]}
    return [
        (
            "source",
            {"data_source": {"type": "jsonl", "source": {"type": "file_id", "id": refs["evals_file"]}}},
        ),
        (
            "model",
            {
                "data_source": {
                    "type": "completions",
                    "model": refs["model"],
                    "source": content,
                    "input_messages": template,
                }
            },
        ),
    ]


BODIES: dict[str, Callable[[Refs, Refs], list[tuple[str, Any]]]] = {
    "CreateFineTuningJobRequest": _job,
    "CreateEvalRunRequest": _run,
    "CreateChatCompletionRequest": lambda refs, own: [
        ("model", {"model": refs["model"], "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
    ],
    "CreateCompletionRequest": lambda refs, own: [
        ("model", {"model": refs["model"], "prompt": "hi", "max_tokens": 2})
    ],
    "CreateResponseRequest": lambda refs, own: [
        ("model", {"model": refs["model"], "input": "hi", "max_output_tokens": 4}),
        (
            "previous_response_id",
            {
                "model": "tiny",
                "input": "hi",
                "max_output_tokens": 4,
                "previous_response_id": refs["response_id"],
            },
        ),
    ],
    "UnloadLoRAAdapterRequest": lambda refs, own: [("lora_name", {"lora_name": refs["model"]})],
    "LoadLoRAAdapterRequest": lambda refs, own: [("lora_path", {"lora_name": "x", "lora_path": "/tmp"})],
    # Bodies that can name nothing of another project: B's own request, checked for leaks.
    "UpdateEvalRequest": lambda refs, own: [("own", {"name": "renamed by B", "metadata": {"by": "B"}})],
    "CreateEvalRequest": lambda refs, own: [
        (
            "own",
            {
                "name": "B's",
                "testing_criteria": [STRING_CHECK],
                "data_source_config": {"type": "custom", "item_schema": {}},
            },
        )
    ],
    "RunGraderRequest": lambda refs, own: [
        ("own", {"grader": STRING_CHECK, "model_sample": "a", "item": {"answer": "a"}})
    ],
    "ValidateGraderRequest": lambda refs, own: [("own", {"grader": STRING_CHECK})],
    "SavedGraderCreate": lambda refs, own: [("own", {"name": "B's", "grader": STRING_CHECK})],
    "Body_create_file_v1_files_post": lambda refs, own: [("own", None)],
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    params: tuple[str, ...]
    schema: str | None


def operations(document: dict[str, Any]) -> list[Operation]:
    found = []
    for path, methods in document["paths"].items():
        for method, spec in methods.items():
            params = tuple(p["name"] for p in spec.get("parameters", []) if p["in"] == "path")
            content = spec.get("requestBody", {}).get("content", {})
            refs = [
                c["schema"]["$ref"].rsplit("/", 1)[-1]
                for c in content.values()
                if "$ref" in c.get("schema", {})
            ]
            found.append(Operation(method.upper(), path, params, refs[0] if refs else None))
    return found


# --- calling and comparing ---


def _url(op: Operation, ids: Refs) -> str:
    return re.sub(r"\{(\w+)(?::path)?\}", lambda m: ids[m[1]], op.path)


def _call(http: httpx.Client, project: Project, op: Operation, ids: Refs, body: Any) -> httpx.Response:
    if op.schema == "Body_create_file_v1_files_post":
        files = {"file": ("b.jsonl", rft_rows(2), "application/jsonl")}
        return http.post("/v1/files", headers=project.headers, files=files, data={"purpose": "fine-tune"})
    return http.request(op.method, _url(op, ids), headers=project.headers, json=body)


def _shape(response: httpx.Response, ids: Refs) -> tuple[int, str]:
    """Status and body with the ids the request named replaced by their parameter's name."""
    text = response.text
    for name, value in sorted(ids.items(), key=lambda kv: -len(kv[1])):
        text = text.replace(value, f"<{name}>")
    return response.status_code, re.sub(r"\b(chatcmpl|resp|cmpl|msg)[-_][0-9a-f]+", r"\1-…", text)


def _leaks(response: httpx.Response, victim: Project) -> list[str]:
    return [v for v in [victim.marker, *victim.ids.values()] if v in response.text]


def _reads(http: httpx.Client, ops: list[Operation], project: Project) -> dict[str, tuple[int, str]]:
    """Everything ``project`` can read (every GET of the document, on its own ids)."""
    return {
        op.path: (r.status_code, r.text)
        for op in ops
        if op.method == "GET" and (r := http.get(_url(op, project.ids), headers=project.headers))
    }


@dataclass
class World:
    running: Running
    http: httpx.Client
    a: Project
    b: Project
    ops: list[Operation]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[World]:
    with run_server(tmp_path_factory.mktemp("isolation"), models={"tiny": str(tiny_model_dir)}) as running:
        projects = []
        for name in ("team-a", "team-b"):
            _, key = running.store.keys.create(name)
            projects.append(Project(name, key, marker=f"SECRET-{name}-{new_id('', 8)}"))
        with httpx.Client(base_url=running.url, timeout=120) as http:
            for project in projects:
                _populate(http, running, project, tiny_model_dir)
            yield World(running, http, *projects, operations(running.app.openapi()))


def _bodies(op: Operation, refs: Refs, own: Refs) -> list[tuple[str, Any]]:
    if op.schema is None:
        return [("none", None)]
    assert op.schema in BODIES, (
        f"{op.method} {op.path}: no body for {op.schema}; say how B could reach A through it"
    )
    return BODIES[op.schema](refs, own)


def test_every_operation_is_covered_and_path_parameters_are_known(world: World) -> None:
    assert len(world.ops) >= 40
    for op in world.ops:
        for param in op.params:
            assert param in ABSENT, (
                f"{op.method} {op.path}: unknown path parameter {param!r}; teach this test"
            )
        _bodies(op, world.a.ids, world.b.ids)


def test_b_cannot_see_change_delete_or_reference_a(world: World) -> None:
    http, a, b = world.http, world.a, world.b
    before = _reads(http, world.ops, a)
    problems: list[str] = []
    for op in world.ops:
        where = f"{op.method} {op.path}"
        # 1. A's ids in the path (and B's parent with A's child): exactly as absent ids.
        for own in range(len(op.params)):
            target = {**{p: b.ids[p] for p in op.params[:own]}, **{p: a.ids[p] for p in op.params[own:]}}
            absent = {**target, **{p: ABSENT[p] for p in op.params[own:]}}
            for label, body in _bodies(op, b.ids, b.ids)[:1]:
                seen = _shape(_call(http, b, op, target, body), {p: a.ids[p] for p in op.params[own:]})
                expected = _shape(_call(http, b, op, absent, body), {p: ABSENT[p] for p in op.params[own:]})
                if seen != expected:
                    problems.append(f"{where} [{label}, A's {op.params[own:]}]: {seen} != absent {expected}")
        # 2. B's own path, a body that names A's resources: exactly as unknown ids.
        if op.schema is not None:
            mine = {p: b.ids[p] for p in op.params}
            refs_a = {**b.ids, **{k: a.ids[k] for k in ABSENT}}
            for (label, body), (_, missing) in zip(
                _bodies(op, refs_a, b.ids), _bodies(op, ABSENT, b.ids), strict=True
            ):
                if label == "own":
                    response = _call(http, b, op, mine, body)
                    if leaked := _leaks(response, a):
                        problems.append(f"{where} [own body]: A's {leaked} in {response.text[:300]}")
                    continue
                seen = _shape(_call(http, b, op, mine, body), {k: a.ids[k] for k in ABSENT})
                expected = _shape(_call(http, b, op, mine, missing), ABSENT)
                if seen != expected:
                    problems.append(f"{where} [{label}]: {seen} != unknown {expected}")
        # 3. Whatever B reads (lists included) never mentions A.
        if op.method == "GET":
            response = http.get(_url(op, b.ids), headers=b.headers)
            if leaked := _leaks(response, a):
                problems.append(f"{where}: B's read shows A's {leaked}")
    assert not problems, "\n".join(problems)
    assert _reads(http, world.ops, a) == before, "A's resources changed while B tried"


def test_the_owner_can_do_what_b_was_refused(world: World) -> None:
    """The same requests succeed with A's key: B was refused for ownership, not for a bad request."""
    http, a = world.http, world.a
    for path in (
        "/v1/files/{file_id}",
        "/v1/fine_tuning/jobs/{fine_tuning_job_id}/checkpoints",
        "/v1/evals/{eval_id}/runs/{run_id}/output_items/{output_item_id}",
        "/v1/models/{model}",
        "/v1/openrft/graders/{grader_id}",
        "/v1/responses/{response_id}",
    ):
        op = next(o for o in world.ops if o.path == path and o.method == "GET")
        assert http.get(_url(op, a.ids), headers=a.headers).status_code == 200, path
    for schema, label in (
        ("CreateFineTuningJobRequest", "model"),
        ("CreateEvalRunRequest", "source"),
        ("CreateChatCompletionRequest", "model"),
    ):
        op = next(o for o in world.ops if o.schema == schema)
        body = dict(BODIES[schema](a.ids, a.ids))[label]
        response = _call(http, a, op, a.ids, body)
        assert response.status_code < 300, (schema, response.text)


def test_the_official_client_sees_a_missing_object(world: World) -> None:
    b = openai.OpenAI(base_url=world.running.base_url, api_key=world.b.key, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        b.files.retrieve(world.a.ids["file_id"])
    with pytest.raises(openai.NotFoundError):
        b.fine_tuning.jobs.cancel(world.a.ids["fine_tuning_job_id"])
    with pytest.raises(openai.NotFoundError):
        b.chat.completions.create(model=world.a.ids["model"], messages=[{"role": "user", "content": "hi"}])
    assert world.a.ids["file_id"] not in {f.id for f in b.files.list().data}


def test_an_admin_key_sees_every_project_and_the_key_says_its_project(world: World) -> None:
    http, running = world.http, world.running
    admin = {"Authorization": f"Bearer {running.key}"}
    listed = {f["id"] for f in http.get("/v1/files", headers=admin).json()["data"]}
    assert {world.a.ids["file_id"], world.b.ids["file_id"]} <= listed
    assert http.get(f"/v1/evals/{world.a.ids['eval_id']}", headers=admin).status_code == 200
    me = http.get("/v1/openrft/me", headers=world.a.headers).json()
    assert (me["project"], me["admin"]) == ("team-a", False)
    assert http.get("/v1/openrft/me", headers=admin).json()["admin"] is True


def test_a_revoked_key_is_refused_within_the_cache_time(world: World) -> None:
    running = world.running
    row, key = running.store.keys.create("team-c")
    headers = {"Authorization": f"Bearer {key}"}
    assert world.http.get("/v1/files", headers=headers).status_code == 200
    running.store.keys.revoke(row.id)
    deadline = time.monotonic() + CACHE_SECONDS + 2
    while world.http.get("/v1/files", headers=headers).status_code != 401:
        assert time.monotonic() < deadline, "a revoked key still worked after the cache time"
        time.sleep(0.2)


@pytest.mark.slow
def test_what_a_worker_makes_for_a_job_belongs_to_the_jobs_project(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> None:
    """A real job through a worker: its ft: model, checkpoints, validation eval and runs are A's."""
    from openrft.server.worker import start_worker_threads
    from openrft.store import EvalRow, EvalRunRow, ModelRow

    fast = {"poll_seconds": 0.2, "heartbeat_seconds": 0.5, "lease_seconds": 30}
    with run_server(
        tmp_path_factory.mktemp("worker"), models={"tiny": str(tiny_model_dir)}, **fast
    ) as running:
        state = running.app.state.openrft
        stop, threads = start_worker_threads(state.settings, 1, store=state.store)
        try:
            _, key_a = running.store.keys.create("team-a")
            _, key_b = running.store.keys.create("team-b")
            a = openai.OpenAI(base_url=running.base_url, api_key=key_a, max_retries=0, timeout=120)
            b = openai.OpenAI(base_url=running.base_url, api_key=key_b, max_retries=0, timeout=120)
            train = a.files.create(file=("t.jsonl", rft_rows(4)), purpose="fine-tune")
            valid = a.files.create(file=("v.jsonl", rft_rows(2)), purpose="fine-tune")
            hyper = {
                "batch_size": 2,
                "n_epochs": 1,
                "eval_interval": 2,
                "eval_samples": 1,
                "max_completion_length": 4,
                "max_steps": 2,
            }
            job = a.fine_tuning.jobs.create(
                model="tiny",
                training_file=train.id,
                validation_file=valid.id,
                method={
                    "type": "reinforcement",
                    "reinforcement": {"grader": STRING_CHECK, "hyperparameters": hyper},
                },
            )
            done = wait_for(
                lambda: a.fine_tuning.jobs.retrieve(job.id), lambda j: j.status in ("succeeded", "failed")
            )
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        assert done.status == "succeeded", done.error
        store = running.store
        made = [m for m in store.models(None) if m.job_id == job.id]
        assert made and {m.project for m in made} == {"team-a"}, [(m.id, m.project) for m in made]
        assert store.get(EvalRow, done.eval_id).project == "team-a"
        runs = store.job_runs(job.id)
        assert runs and {r.project for r in runs} == {"team-a"}
        assert isinstance(store.find(ModelRow, done.fine_tuned_model), ModelRow)
        assert a.models.retrieve(done.fine_tuned_model).id == done.fine_tuned_model
        for ident in [m.id for m in made]:
            with pytest.raises(openai.NotFoundError):
                b.models.retrieve(ident)
        with pytest.raises(openai.NotFoundError):
            b.evals.runs.list(done.eval_id)
        assert not {m.id for m in b.models.list().data} & {m.id for m in made}
        assert isinstance(store.get(EvalRunRow, runs[0].id), EvalRunRow)
