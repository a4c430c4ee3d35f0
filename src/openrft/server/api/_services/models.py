"""``/v1/models``: the registry's models and the runtime-loaded adapters as OpenAI's ``Model``;
deleting a fine-tuned model or checkpoint frees its files."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from openrft.errors import InvalidRequestError
from openrft.server._shared import OWNER, ModelNotFound, ModelRegistry, OfferedModel, Principal
from openrft.server.api._errors import PermissionDeniedError
from openrft.server.api._types.common import ListPage
from openrft.server.api._types.models import Model, ModelDeleted
from openrft.store import LIVE_JOB_STATUSES, JobRow

if TYPE_CHECKING:
    from openrft.server.api._services.serving import Adapter, ServingModels


def _model_object(offered: OfferedModel) -> Model:
    return Model(id=offered.id, created=offered.created, owned_by=offered.owned_by)


class ModelService:
    def __init__(self, registry: ModelRegistry, serving: ServingModels):
        self.registry = registry
        self.serving = serving

    def list(self, principal: Principal) -> ListPage[Model]:
        """Shared models, the caller's project's ``ft:`` models and the runtime-loaded adapters."""
        models = [_model_object(m) for m in self.registry.list(principal)]
        models += [_adapter_object(a) for a in self.serving.adapters()]
        return ListPage[Model](data=models, first_id=None, last_id=None, has_more=False)

    def get(self, principal: Principal, name: str) -> Model:
        adapter = self.serving.runtime.get(name)
        return _adapter_object(adapter) if adapter else _model_object(self.registry.get(name, principal))

    async def delete(self, principal: Principal, name: str) -> ModelDeleted:
        """Delete a fine-tuned model or checkpoint of the caller's project and free its files.

        Base models cannot be deleted (403, as OpenAI answers for models one does not own); a
        checkpoint of a job still under way cannot either (the job may resume from it).
        """
        store = self.registry.store
        row = store.find_model(name, principal.scope)
        if row is None:
            if name in self.serving.runtime or self._offered(principal, name):
                raise PermissionDeniedError(
                    f"model {name!r} is not a fine-tuned model of your project; only those can be deleted",
                    param="model",
                    code="model_not_deletable",
                )
            raise ModelNotFound(f"The model {name!r} does not exist", param="model", code="model_not_found")
        if row.project is None or row.job_id is None:
            raise PermissionDeniedError(
                f"model {name!r} is a base model; only fine-tuned models can be deleted",
                param="model",
                code="model_not_deletable",
            )
        job = store.find(JobRow, row.job_id)
        if job is not None and job.status in LIVE_JOB_STATUSES:
            raise InvalidRequestError(
                f"model {name!r} belongs to job {job.id}, which is {job.status}: "
                "cancel it or wait for it to end",
                param="model",
                code="job_not_finished",
            )
        store.delete_model(name)
        await self.serving.forget(name, row.path)
        self._free(Path(row.path), store.data_dir / "jobs" / row.job_id, store.model_paths())
        return ModelDeleted(id=name, deleted=True)

    def _offered(self, principal: Principal, name: str) -> bool:
        try:
            self.registry.get(name, principal)
        except ModelNotFound:
            return False
        return True

    @staticmethod
    def _free(path: Path, job_dir: Path, still_used: set[str]) -> None:
        """Remove a deleted model's folder: only inside its job's folder, and only when no other
        model name opens it (a job's final model may be one of its checkpoints)."""
        if not path.is_absolute() or str(path) in still_used:
            return
        resolved = path.resolve()
        if resolved.is_relative_to(job_dir.resolve()) and resolved != job_dir.resolve() and resolved.exists():
            shutil.rmtree(resolved, ignore_errors=True)


def _adapter_object(adapter: Adapter) -> Model:
    return Model(id=adapter.name, created=adapter.created, owned_by=OWNER)
