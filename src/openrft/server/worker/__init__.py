"""The execution plane: workers that claim queued jobs and eval runs and run each in its own process.

>>> from openrft.server import ServerSettings
>>> from openrft.server.worker import Worker
>>> Worker(ServerSettings()).run(stop)          # until the threading.Event ``stop`` is set

It shares nothing with the HTTP plane (``openrft.server.api``) but the store and
``openrft.server._shared``; ``openrft worker`` runs one, ``openrft serve`` runs some in threads.
"""

from openrft.server.worker._loop import Worker, start_worker_threads

__all__ = ["Worker", "start_worker_threads"]
