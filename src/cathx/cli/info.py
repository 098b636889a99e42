"""`cathx info`: versions, threads and device; `--model NAME`: parameters and FLOPs of a network."""

from __future__ import annotations

import platform

import typer
from rich.console import Console
from rich.table import Table

from cathx.errors import CathxError


def environment_report() -> dict[str, str]:
    """Versions of cathx and its main dependencies, thread count and compute device."""
    import importlib.metadata as metadata

    import torch

    import cathx
    from cathx.system import cpu_description, inference_precision, training_precision

    report = {"cathx": cathx.__version__, "python": platform.python_version(), "platform": platform.platform(),
              "cpu": cpu_description()}
    for package in ("torch", "torchvision", "timm", "segmentation-models-pytorch", "lightning",
                    "albumentations", "onnxruntime", "pydicom", "opencv-python-headless"):
        try:
            report[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            report[package] = "not installed"
    report["torch threads"] = str(torch.get_num_threads())
    report["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    precision, _ = inference_precision("auto", "cuda" if torch.cuda.is_available() else "cpu")
    report["predicts in"] = f"{precision} (--precision auto)"
    report["trains bf16-mixed in"] = training_precision("bf16-mixed", on_cpu=not torch.cuda.is_available())[0]
    return report


def model_report(name: str, size: int = 256) -> dict[str, str]:
    """Parameters and forward GFLOPs at size x size of a model profile, an encoder (at the paper's
    widths), a shipped model or a checkpoint file; CathxError naming the valid choices otherwise."""
    from pathlib import Path

    from cathx.models import ENCODERS, MODEL_PROFILES, build_model, model_profile
    from cathx.models.complexity import complexity_report
    from cathx.zoo import SHIPPED_MODELS

    if size < 16 or size % 16 or size > 4096:  # a real forward pass counts the FLOPs: bounded memory
        raise CathxError(f"--size: must be a positive multiple of 16 up to 4096, got {size}")
    if name in MODEL_PROFILES:
        cfg, source = model_profile(name), f"profile {name}"
        model = build_model(cfg)
    elif name in ENCODERS:
        cfg, source = model_profile("paper", encoder=name), f"paper widths, encoder {name}"
        model = build_model(cfg)
    elif name in SHIPPED_MODELS or Path(name).suffix in (".pt", ".ckpt", ".pth", ".safetensors") or Path(name).exists():
        from cathx.checkpoint import load_model

        model, cfg = load_model(name)
        source = f"checkpoint {name}"
    else:
        raise CathxError(
            f"--model: unknown model {name!r}; choose a profile ({', '.join(MODEL_PROFILES)}), "
            f"an encoder ({', '.join(ENCODERS)}), a shipped model ({', '.join(SHIPPED_MODELS)}) or a checkpoint file"
        )
    report = complexity_report(model, size=size, in_channels=cfg.in_channels)
    return {
        "model": source,
        "encoder": cfg.encoder,
        "widths": f"latent {cfg.latent_channels}, decoder {list(cfg.decoder_channels)}, heads {cfg.head_channels}",
        "tasks": ", ".join(cfg.tasks),
        "output stride": str(cfg.output_stride),
        "parameters": f"{report['parameters']:,} ({report['parameters_m']:.2f} M)",
        f"GFLOPs at {size}x{size}": f"{report['gflops']:.2f} (forward, batch 1, multiply-add = 2 FLOPs)",
    }


def register(app: typer.Typer) -> None:
    @app.command()
    def info(
        model: str | None = typer.Option(
            None, "--model", help="Profile, encoder name, shipped model or checkpoint: print parameters and FLOPs."
        ),
        size: int | None = typer.Option(None, "--size", help="Input side in pixels for the FLOP count (with --model; "
                                                             "default 256)."),
    ) -> None:
        """Print versions, thread count and compute device, or a model's size and cost."""
        if model is None and size is not None:
            raise CathxError("--size: counts a model's FLOPs, so it needs --model")
        report = model_report(model, 256 if size is None else size) if model is not None else environment_report()
        table = Table(show_header=False, box=None)
        for key, value in report.items():
            table.add_row(f"[bold]{key}[/]", value)
        Console().print(table)
