"""`cathx models`: the shipped models, where their weights are, and their cards' headline figures."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table


def register(app: typer.Typer) -> None:
    @app.command("models")
    def models() -> None:
        """List the shipped models (usable as --weights NAME and cathx.load(NAME)) with the metrics
        their model cards record (docs/models.md)."""
        from cathx.zoo import SHIPPED_MODELS, WEIGHTS_DIR, model_card

        table = Table(title="shipped models")
        for column in ("name", "task", "input", "size MB", "headline metrics (synthetic hold-out frames)", "weights"):
            table.add_column(column)
        for name, filename in SHIPPED_MODELS.items():
            path = WEIGHTS_DIR / filename
            if not path.is_file():
                table.add_row(name, "-", "-", "-", "not shipped in this install", str(path))
                continue
            card = model_card(name)
            headline = ", ".join(f"{key} {value:.3f}" if isinstance(value, float) else f"{key} {value}"
                                 for key, value in card.get("headline", {}).items())
            table.add_row(name, card.get("task", "?"), str(card.get("input_size", "?")),
                          f"{path.stat().st_size / 1e6:.1f}", headline or "-", str(path))
        Console().print(table)

