"""Progress bars for the long commands (synth, val, data check, data convert, cls synth, cls predict).

The library reports progress through a plain callback ``progress(done, total)`` and prints nothing;
this module turns that callback into a rich bar. The bar is drawn on stderr, and only while stdout
is a terminal: piped or redirected output (scripts, tests, CI logs) stays exactly as before.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console

Update = Callable[[int, int], None]


def _ignore(done: int, total: int) -> None:
    """The callback when no bar is shown."""


@contextmanager
def progress_bar(description: str, console: Console | None = None) -> Iterator[Update]:
    """A callback ``update(done, total)`` that moves a progress bar while the block runs.

    console: where to draw (tests pass one); default: stderr, and nothing at all unless stdout is
    a terminal. The bar is removed when the block ends, leaving the command's own summary line.
    """
    if console is None:
        if not sys.stdout.isatty():
            yield _ignore
            return
        console = Console(stderr=True)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update
