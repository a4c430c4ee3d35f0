"""API keys of projects, stored hashed: ``openrft keys create --project NAME`` makes one.

A key reads ``sk-proj-<12 hex id>_<secret>``. The id finds the row; the secret is checked
against the row's salted SHA-256 digest in constant time. Neither the key nor its secret is
ever stored: only the salt, the digest and a redacted form (``sk-proj-3f9a…Xq2w``) to
recognise it in a list. A key of high entropy needs no slow hash; the per-key salt keeps two
rows from sharing a digest and a leaked table from being matched against known keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

from sqlalchemy import select, update

from openrft.errors import InvalidRequestError
from openrft.store._db import Database
from openrft.store._errors import NotFoundError
from openrft.store._tables import ApiKeyRow

KEY_PREFIX = "sk-proj-"
_ID_HEX = 12
_PROJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_DUMMY_SALT = bytes(16)


def check_project_name(name: object) -> str:
    """``name`` if it is a project name (1-64 letters, digits, ``_ . -``, starting with a letter or
    digit), else :class:`InvalidRequestError`; any value may be passed."""
    if not isinstance(name, str) or not _PROJECT.fullmatch(name):
        raise InvalidRequestError(
            f"project {str(name)[:80]!r}: use 1-64 letters, digits, '_', '.' or '-', starting with "
            "a letter or digit",
            param="project",
        )
    return name


def _digest(salt: bytes, secret: str) -> str:
    return hashlib.sha256(salt + secret.encode()).hexdigest()


def _split(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a project key, or None when ``token`` does not have its shape."""
    if not token.startswith(KEY_PREFIX):
        return None
    body = token[len(KEY_PREFIX) :]
    key_hex, sep, secret = body[:_ID_HEX], body[_ID_HEX : _ID_HEX + 1], body[_ID_HEX + 1 :]
    if sep != "_" or not secret or not re.fullmatch(r"[0-9a-f]+", key_hex):
        return None
    return f"key_{key_hex}", secret


class KeyStore:
    """The ``api_keys`` table: create, verify, list and revoke project keys."""

    def __init__(self, db: Database):
        self.db = db

    def create(self, project: str, *, admin: bool = False, name: str | None = None) -> tuple[ApiKeyRow, str]:
        """A new key of ``project``; returns its row and the key itself (shown once, never stored)."""
        check_project_name(project)
        key_hex, secret = secrets.token_hex(_ID_HEX // 2), secrets.token_urlsafe(32)
        token = f"{KEY_PREFIX}{key_hex}_{secret}"
        salt = secrets.token_bytes(16)
        row = ApiKeyRow(
            id=f"key_{key_hex}",
            project=project,
            admin=admin,
            name=name,
            salt=salt.hex(),
            digest=_digest(salt, secret),
            redacted=f"{KEY_PREFIX}{key_hex}…{secret[-4:]}",
            created_at=int(time.time()),
        )
        with self.db.write() as session:
            session.add(row)
        return row, token

    def verify(self, token: str) -> ApiKeyRow | None:
        """The live key row ``token`` is, else None (unknown, wrong secret or revoked)."""
        parts = _split(token)
        key_id, secret = parts if parts is not None else ("", token)
        row = None
        if parts is not None:
            with self.db.read() as session:
                row = session.execute(select(ApiKeyRow).where(ApiKeyRow.id == key_id)).scalar_one_or_none()
        # Hash even when there is no row, so that timing does not tell which ids exist.
        salt = bytes.fromhex(row.salt) if row is not None else _DUMMY_SALT
        expected = row.digest if row is not None else "0" * 64
        matches = hmac.compare_digest(_digest(salt, secret), expected)
        if row is None or not matches or row.revoked_at is not None:
            return None
        return row

    def list(self, *, project: str | None = None, revoked: bool = False) -> list[ApiKeyRow]:
        """Keys (of ``project``, or of every project), oldest first; revoked ones only if asked."""
        query = select(ApiKeyRow).order_by(ApiKeyRow.seq)
        if project is not None:
            query = query.where(ApiKeyRow.project == project)
        if not revoked:
            query = query.where(ApiKeyRow.revoked_at.is_(None))
        with self.db.read() as session:
            return list(session.execute(query).scalars())

    def revoke(self, key_id: str) -> ApiKeyRow:
        """Revoke a key by its id (``key_…``); revoking twice is harmless."""
        with self.db.write() as session:
            row = session.execute(select(ApiKeyRow).where(ApiKeyRow.id == key_id)).scalar_one_or_none()
            if row is None:
                raise NotFoundError(f"No API key found with id {key_id!r}", param="key_id", code="not_found")
            if row.revoked_at is None:
                session.execute(
                    update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(revoked_at=int(time.time()))
                )
                row.revoked_at = int(time.time())
        return row
