"""`cathx info`: versions, threads and device."""

from __future__ import annotations

import platform

import typer
from rich.console import Console
from rich.table import Table


def environment_report() -> dict[str, str]:
    """Versions of cathx and its main dependencies, thread count and compute device."""
    import importlib.metadata as metadata

    import torch

    import cathx

    report = {"cathx": cathx.__version__, "python": platform.python_version(), "platform": platform.platform()}
    for package in ("torch", "torchvision", "timm", "segmentation-models-pytorch", "lightning",
                    "albumentations", "onnxruntime", "pydicom", "opencv-python-headless"):
        try:
            report[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            report[package] = "not installed"
    report["torch threads"] = str(torch.get_num_threads())
    report["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return report


def register(app: typer.Typer) -> None:
    @app.command()
    def info() -> None:
        """Print versions, thread count and compute device."""
        table = Table(show_header=False, box=None)
        for key, value in environment_report().items():
            table.add_row(f"[bold]{key}[/]", value)
        Console().print(table)
