"""What the API plane (``server/api``) and the execution plane (``server/worker``) both need.

The two planes never import each other; they meet in the store and in this package: the
server's settings, the model registry (names → what to open), the job events both write and
who is asking (the caller's project).
"""

from openrft.server._shared._jobs import fine_tuned_name, job_event
from openrft.server._shared._models import (
    OWNER,
    ModelNotFound,
    ModelRegistry,
    OfferedModel,
    installed_packaged_models,
    is_plain_name,
    stored_model_registry,
)
from openrft.server._shared._projects import NO_AUTH, TRUSTED, Principal, request_principal
from openrft.server._shared._settings import ServerSettings

__all__ = [
    "NO_AUTH",
    "OWNER",
    "TRUSTED",
    "ModelNotFound",
    "ModelRegistry",
    "OfferedModel",
    "Principal",
    "ServerSettings",
    "fine_tuned_name",
    "installed_packaged_models",
    "is_plain_name",
    "job_event",
    "request_principal",
    "stored_model_registry",
]
