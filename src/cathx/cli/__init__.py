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
    from typer._click.exceptions import BadParameter as _BadParameter
    from typer._click.exceptions import ClickException as _ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import BadParameter as _BadParameter
    from click.exceptions import ClickException as _ClickException


def _plain_flags() -> None:
    """Show flags (--resume, --video/--no-video, --help) without a value type in --help.

    typer >= 0.29 prints ``<bool>`` after every flag, as if it took a value; a flag takes none.
    Options with a metavar of their own and options taking values are shown as typer shows them.
    tests/cli/test_help.py checks every command's help, so a typer release that renames the hook
    fails there.
    """
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if getattr(shown, "cathx_plain_flags", False):
        return

    def display_type_rich(self, ctx):
        if getattr(self, "is_flag", False) and self.metavar is None:
            return None
        return shown(self, ctx)

    display_type_rich.cathx_plain_flags = True
    TyperOption.display_type_rich = display_type_rich


_plain_flags()

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
        returned = app(args=argv, standalone_mode=False, prog_name="cathx")
    except CathxError as exc:
        error_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        error_console.print("[bold red]aborted[/]")
        return 130
    except _ClickException as exc:  # usage errors: bad value, unknown option, missing argument
        line = (_choice_error(exc) if isinstance(exc, _BadParameter) else None) or _usage_line(exc)
        error_console.print(f"[bold red]error:[/] {line}", highlight=False, soft_wrap=True)
        return 2
    return returned if isinstance(returned, int) else 0


def _usage_line(exc: Exception) -> str:
    """Click's usage error in one line (click prints three: usage, a hint, the error), naming
    the command whose --help lists what it takes."""
    format_message = getattr(exc, "format_message", None)
    message = " ".join((format_message() if callable(format_message) else str(exc)).split()).rstrip(".")
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None)
    return f"{message} (`{path} --help` lists the options)" if path else message


def _choice_error(exc: Exception) -> str | None:
    """``--engine 'spark': choose from local, ray`` for a value outside an option's choices (a
    Literal or Enum annotation), the one-line form of every other bad value; None for other errors."""
    from enum import Enum

    param = getattr(exc, "param", None)
    descriptor = getattr(param, "type_descriptor", None)
    choices = getattr(descriptor, "choices", None)
    if not choices:
        return None
    names = ", ".join(str(c.value if isinstance(c, Enum) else c) for c in choices)
    option = max(getattr(param, "opts", None) or [f"--{param.name}"], key=len)
    errors = getattr(exc.__cause__, "errors", None)  # typer validates with pydantic
    try:
        value = errors()[0]["input"] if callable(errors) else None
    except (IndexError, KeyError, TypeError):
        value = None
    shown = f"{option} {value!r}" if isinstance(value, str) else option
    return f"{shown}: choose from {names}"


if __name__ == "__main__":
    sys.exit(main())
