"""The ``openrft`` command line."""

from openrft.cli._app import app, main

__all__ = ["app", "main"]
