"""`cathx synth`: generate a synthetic fluoroscopy dataset in the XRayCath layout."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal

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
        out: Annotated[
            Path, typer.Argument(help="Output folder (must not exist or be empty, unless --overwrite).")
        ],
        n: Annotated[
            int, typer.Option("--n", help="Total number of frames (sequence frames included).")
        ] = 2000,
        size: Annotated[int, typer.Option(help="Image width and height in pixels (>= 64).")] = 256,
        seed: Annotated[int, typer.Option(help="Random seed: the same seed gives identical files.")] = 0,
        sequences: Annotated[int, typer.Option(help="Number of moving sequences among the n frames.")] = 0,
        frames: Annotated[int, typer.Option(help="Frames per sequence.")] = 20,
        fps: Annotated[
            float, typer.Option(help="Frame rate of sequences (7.5, 15 or 30 are typical).")
        ] = 15.0,
        preview: Annotated[Path | None, typer.Option(help="Also write a contact sheet PNG here.")] = None,
        overwrite: Annotated[bool, typer.Option(help="Replace an existing cathx dataset at OUT.")] = False,
        workers: Annotated[
            int | None, typer.Option(help="Worker processes (default: one per CPU, at most 2).")
        ] = None,
        catheter_types: Annotated[
            str | None,
            typer.Option(help="Comma-separated subset of cs_decapolar,quadripolar,ablation,lasso,pacing."),
        ] = None,
        bit_depth: Annotated[Literal[8, 16], typer.Option(help="PNG bit depth.")] = 8,
        engine: Annotated[
            Literal["local", "ray"], typer.Option(help="local: --workers processes here; ray: Ray tasks over seed ranges "
                              "(same files as local for the same seed).")
        ] = "local",
        address: Annotated[
            str | None, typer.Option(help="With --engine ray: the cluster to run on (auto, HOST:PORT); "
                                     "omitted: a local Ray instance of --workers CPUs.")
        ] = None,
        config_path: Annotated[
            Path | None,
            typer.Option("--config", "-c", help="YAML file of SynthConfig fields (see docs/synthetic.md)."),
        ] = None,
    ) -> None:
        """Generate a synthetic X-ray fluoroscopy dataset (images, masks, electrodes, annotations.json)."""
        from dataclasses import replace

        from cathx.config import load_yaml
        from cathx.data.synthetic import SynthConfig, write_dataset
        from cathx.data.synthetic.preview import write_preview
        from cathx.data.synthetic.writer import DatasetPlan, check_arguments, preview_samples
        from cathx.system import render_workers

        workers = render_workers() if workers is None else workers
        names = _types(catheter_types)
        config = load_yaml(SynthConfig, config_path) if config_path is not None else SynthConfig()
        check_arguments(
            out,
            n,
            size,
            sequences,
            frames,
            fps,
            bit_depth,
            overwrite,
            workers,
            names if names is not None else config.catheter_types,
            seed,
            engine,
            address,
        )
        if names is not None:
            config = replace(config, catheter_types=names)
        if preview is not None and preview.suffix.lower() != ".png":
            raise CathxError(f"{preview}: the preview must be a .png file")
        from cathx.cli.progress import progress_bar

        console = Console()
        start = time.perf_counter()
        try:
            with progress_bar(f"generating {size}x{size} px frames") as progress:
                path = write_dataset(
                    out,
                    n,
                    size=size,
                    seed=seed,
                    sequences=sequences,
                    frames=frames,
                    fps=fps,
                    config=config,
                    overwrite=overwrite,
                    workers=workers,
                    bit_depth=bit_depth,
                    engine=engine,
                    address=address,
                    progress=progress,
                )
        except KeyboardInterrupt:
            Console(stderr=True).print(f"interrupted: nothing was written to {out}", highlight=False)
            raise typer.Exit(130) from None
        elapsed = time.perf_counter() - start
        console.print(
            f"wrote {n} frames to {path} in {elapsed:.1f} s ({n / max(elapsed, 1e-9):.1f} frames/s)"
        )
        if preview is not None:
            samples = preview_samples(DatasetPlan(n, size, seed, sequences, frames, fps), config)
            write_preview(preview, samples)
            console.print(f"preview: {preview}")
