"""The throwaway PostgreSQL cluster of the server's tests, for the migration tests."""

from tests.server.test_postgres import postgres_url  # noqa: F401
