"""The CLI's two Rich consoles: results on stdout, warnings and errors on stderr.

Their own module, below the Typer application, so that every command module can print without
importing the application that registers it.
"""

from rich.console import Console

console = Console()
err_console = Console(stderr=True)
