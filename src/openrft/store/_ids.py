"""OpenAI-looking identifiers: a resource prefix and random letters and digits.

A file's id is also its name on disk, so :func:`is_valid_id` (letters, digits, ``-`` and
``_`` after a known prefix) is what keeps a client-supplied id from naming any other path.
"""

from __future__ import annotations

import re
import secrets
import string

_ALPHABET = string.ascii_letters + string.digits
_SAFE = re.compile(r"^[A-Za-z]+[-_][A-Za-z0-9]{8,64}$")


def new_id(prefix: str, length: int = 24) -> str:
    """``prefix`` followed by ``length`` random base-62 characters (``file-3kQ…``)."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def is_valid_id(value: str, prefix: str) -> bool:
    return value.startswith(prefix) and bool(_SAFE.match(value))
