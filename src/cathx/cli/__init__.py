"""The `cathx` command line. The only package that reads arguments or prints for the user.

Each command group lives in its own module exposing ``register(app)``; expected mistakes raise
CathxError, which ``main`` turns into one red line and exit code 2 (no traceback).
"""

from __future__ import annotations

import os
import sys

# No network at run time: keep timm / HF hub and albumentations from trying to reach it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import typer  # noqa: E402
from rich.console import Console  # noqa: E402

from cathx.errors import CathxError  # noqa: E402

try:  # typer >= 0.20 vendors click
    from typer._click.exceptions import ClickException as _ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException as _ClickException

app = typer.Typer(
    name="cathx",
    help="Find catheters in X-ray images: segmentation, electrodes, centrelines, catheter type.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
error_console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """Find catheters in X-ray images: segmentation, electrodes, centrelines, catheter type."""


def _register_all() -> None:
    from cathx.cli import benchmark, cls, data, demo, info, models, predict, synth, train, webapp

    for module in (info, models, demo, synth, data, train, predict, benchmark, cls, webapp):
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, mapping expected errors to exit code 2."""
    try:
        # With standalone_mode=False typer *returns* the exit code of typer.Exit and of Ctrl-C.
        returned = app(args=argv, standalone_mode=False)
    except CathxError as exc:
        error_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        error_console.print("[bold red]aborted[/]")
        return 130
    except _ClickException as exc:  # usage errors: bad option, missing argument
        exc.show()
        return 2
    return returned if isinstance(returned, int) else 0


if __name__ == "__main__":
    sys.exit(main())
