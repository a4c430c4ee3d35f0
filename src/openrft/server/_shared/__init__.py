"""What the API plane (``server/api``) and the execution plane (``server/worker``) both need.

The two planes never import each other; they meet in the store and in this package: the
server's settings, the model registry (names → what to open) and the job events both write.
"""

from openrft.server._shared._jobs import fine_tuned_name, job_event
from openrft.server._shared._models import (
    OWNER,
    ModelNotFound,
    ModelRegistry,
    OfferedModel,
    installed_packaged_models,
    stored_model_registry,
)
from openrft.server._shared._settings import ServerSettings

__all__ = [
    "OWNER",
    "ModelNotFound",
    "ModelRegistry",
    "OfferedModel",
    "ServerSettings",
    "fine_tuned_name",
    "installed_packaged_models",
    "job_event",
    "stored_model_registry",
]
