"""`cathx synth`: generate a synthetic fluoroscopy dataset in the XRayCath layout."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console

from cathx.errors import CathxError


def _types(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    if not names:
        raise CathxError("--catheter-types is empty; give a comma-separated list")
    return names


def register(app: typer.Typer) -> None:
    @app.command()
    def synth(
        out: Path = typer.Argument(..., help="Output folder (must not exist or be empty, unless --overwrite)."),
        n: int = typer.Option(2000, "--n", help="Total number of frames (sequence frames included)."),
        size: int = typer.Option(256, "--size", help="Image width and height in pixels (>= 64)."),
        seed: int = typer.Option(0, "--seed", help="Random seed: the same seed gives identical files."),
        sequences: int = typer.Option(0, "--sequences", help="Number of moving sequences among the n frames."),
        frames: int = typer.Option(20, "--frames", help="Frames per sequence."),
        fps: float = typer.Option(15.0, "--fps", help="Frame rate of sequences (7.5, 15 or 30 are typical)."),
        preview: Path | None = typer.Option(None, "--preview", help="Also write a contact sheet PNG here."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing cathx dataset at OUT."),
        workers: int = typer.Option(2, "--workers", help="Worker processes."),
        catheter_types: str | None = typer.Option(
            None, "--catheter-types", help="Comma-separated subset of cs_decapolar,quadripolar,ablation,lasso,pacing."),
        bit_depth: int = typer.Option(8, "--bit-depth", help="PNG bit depth: 8 or 16."),
    ) -> None:
        """Generate a synthetic X-ray fluoroscopy dataset (images, masks, electrodes, annotations.json)."""
        from dataclasses import replace

        from cathx.data.synthetic import SynthConfig, write_dataset
        from cathx.data.synthetic.preview import write_preview
        from cathx.data.synthetic.writer import check_arguments, preview_samples

        names = _types(catheter_types)
        config = SynthConfig()
        check_arguments(out, n, size, sequences, frames, fps, bit_depth, overwrite, workers,
                        names if names is not None else config.catheter_types, seed)
        if names is not None:
            config = replace(config, catheter_types=names)
        if preview is not None and preview.suffix.lower() != ".png":
            raise CathxError(f"{preview}: the preview must be a .png file")
        console = Console()
        start = time.perf_counter()
        try:
            with console.status(f"generating {n} frames of {size}x{size} px"):
                path = write_dataset(out, n, size=size, seed=seed, sequences=sequences, frames=frames, fps=fps,
                                     config=config, overwrite=overwrite, workers=workers, bit_depth=bit_depth)
        except KeyboardInterrupt:
            Console(stderr=True).print(f"interrupted: nothing was written to {out}", highlight=False)
            raise typer.Exit(130) from None
        elapsed = time.perf_counter() - start
        console.print(f"wrote {n} frames to {path} in {elapsed:.1f} s ({n / max(elapsed, 1e-9):.1f} frames/s)")
        if preview is not None:
            samples = preview_samples(n, size, seed, sequences, frames, fps, config)
            write_preview(preview, samples)
            console.print(f"preview: {preview}")
