"""Stored responses (``/v1/responses``): the response, its input items and the conversation so far."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Connection, Index, Integer, MetaData, String, Table

DEFAULT_PROJECT = "default"
Seq = BigInteger().with_variant(Integer(), "sqlite")


def upgrade(connection: Connection) -> None:
    table = Table(
        "responses",
        MetaData(),
        Column("seq", Seq, primary_key=True, autoincrement=True),
        Column("id", String(64), nullable=False, unique=True),
        Column("created_at", BigInteger, nullable=False),
        Column("status", String(16), nullable=False),
        Column("response", JSON, nullable=False),
        Column("input_items", JSON, nullable=False),
        Column("conversation", JSON, nullable=False),
        Column("project", String(64), nullable=False, server_default=DEFAULT_PROJECT),
    )
    table.create(connection)
    Index("ix_responses_project", table.c.project).create(connection)
