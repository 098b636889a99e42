"""Range checks of command-line values, made before any work starts: CathxError naming the option.

The network sees square inputs whose side must divide by its deepest stride (32: the encoders'
last stage), so every --input-size is a multiple of 32.
"""

from __future__ import annotations

from cathx.errors import CathxError
from cathx.structures import input_size_problem

# --device takes cuda:N besides the fixed names, so it is a string shown with its choices in --help
# (the other fixed sets are Literal annotations, which typer shows and checks itself).
DEVICE_METAVAR = "<cpu|cuda|cuda:N|auto>"


def input_size(value: int | None, option: str = "--input-size") -> None:
    """None (take it from the weights) or a multiple of 32 in [32, 4096]."""
    if value is None:
        return
    problem = input_size_problem(value)
    if problem:
        raise CathxError(f"{option} {value}: {problem}")


def at_least(value: int | float | None, low: int | float, option: str) -> None:
    if value is not None and value < low:
        raise CathxError(f"{option} {value}: must be at least {low}")


def between(value: float, low: float, high: float, option: str, open_ends: bool = False) -> None:
    """``low <= value <= high`` (``low < value < high`` with ``open_ends``); NaN is refused."""
    inside = low < value < high if open_ends else low <= value <= high
    if not inside:
        brackets = ("(", ")") if open_ends else ("[", "]")
        raise CathxError(f"{option} {value}: must be in {brackets[0]}{low}, {high}{brackets[1]}")


def bit_depth(value: int | None, option: str = "--bit-depth") -> None:
    """None or 1..16 significant bits."""
    if value is not None and not 1 <= value <= 16:
        raise CathxError(f"{option} {value}: must be the significant bits of the pixels, 1 to 16")


def device(value: str, option: str = "--device") -> str:
    """cpu, cuda, cuda:N or auto -> the torch device to use; CUDA asked for but absent is an error."""
    from cathx.inference.model import resolve_device

    return resolve_device(value, option)
