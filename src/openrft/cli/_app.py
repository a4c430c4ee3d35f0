"""``openrft``: the Typer application and its one error renderer."""

from __future__ import annotations

import logging
import os
import sys

import typer
from typer.exceptions import TyperException

from openrft.cli._console import err_console
from openrft.errors import OpenRFTError

app = typer.Typer(
    name="openrft",
    help="Open, self-hosted reinforcement fine-tuning with OpenAI's wire format.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register() -> None:
    from openrft.cli._data import data_app
    from openrft.cli._demo import demo
    from openrft.cli._eval import eval_command
    from openrft.cli._graders import graders_app
    from openrft.cli._keys import keys_app
    from openrft.cli._serve import serve, worker
    from openrft.cli._tour import tour
    from openrft.cli._train import train_command

    app.add_typer(graders_app, name="graders")
    app.add_typer(data_app, name="data")
    app.add_typer(keys_app, name="keys")
    app.command("demo")(demo)
    graders_app.command("tour")(tour)
    app.command("eval")(eval_command)
    app.command("train")(train_command)
    app.command("serve")(serve)
    app.command("worker")(worker)


def main() -> None:
    """Entry point: user errors become one line on stderr and exit status 2, never a traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Model-loading bars from transformers would interleave with our own Rich progress output.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    _register()
    try:
        # Without standalone mode click returns a command's ``typer.Exit`` code instead of exiting.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except OpenRFTError as exc:
        err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except TyperException as exc:  # a usage error: the usage line, the problem, exit status 2
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(f"error: {exc.format_message()}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
