"""Which project a bearer key belongs to: the server's own keys, or a project key from the store.

* The server's keys (``OPENRFT_API_KEYS``, or the one generated into ``DATA_DIR/api-key``) are
  the operator's: admin keys of the ``default`` project. They are compared with every
  configured key in constant time.
* Project keys (``sk-proj-…``, made by ``openrft keys create``) are looked up by their id and
  checked against their salted digest (:class:`openrft.store.KeyStore`). A verified key is
  remembered for ``cache_seconds`` (by a hash of it, never the key), so a revoked key stops
  working within that time on every server sharing the store.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

from openrft.server._shared import Principal
from openrft.store import DEFAULT_PROJECT, KEY_PREFIX, Store

CACHE_SECONDS = 5.0
CACHE_SIZE = 4096


class KeyChecker:
    """Bearer key → :class:`Principal`, or None for a key that is not valid."""

    def __init__(self, server_keys: Sequence[str], store: Store, *, cache_seconds: float = CACHE_SECONDS):
        self.server_keys = [key.encode() for key in server_keys]
        self.store = store
        self.cache_seconds = cache_seconds
        self._cache: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()
        self._lock = threading.Lock()

    def server_key(self, token: bytes) -> Principal | None:
        # Compare with every key (no early exit), so that timing reveals nothing.
        if any([hmac.compare_digest(token, key) for key in self.server_keys]):
            return Principal(DEFAULT_PROJECT, admin=True)
        return None

    def cached(self, token: bytes) -> Principal | None:
        with self._lock:
            found = self._cache.get(hashlib.sha256(token).digest())
        if found is not None and found[0] > time.monotonic():
            return found[1]
        return None

    def project_key(self, token: bytes) -> Principal | None:
        """Look a project key up in the store (blocking: called off the event loop)."""
        if not token.startswith(KEY_PREFIX.encode()):
            return None
        row = self.store.keys.verify(token.decode("utf-8", "replace"))
        if row is None:
            return None
        principal = Principal(row.project, admin=row.admin, key_id=row.id)
        with self._lock:
            self._cache[hashlib.sha256(token).digest()] = (time.monotonic() + self.cache_seconds, principal)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return principal
