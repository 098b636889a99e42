"""`cathx predict`, `cathx export` and `cathx bench`: run, deploy and time a trained model."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cathx.errors import CathxError

BACKEND_HELP = "torch (PyTorch eager, channels-last) or onnx (ONNX Runtime on an exported .onnx file)"


def run_predict(source_path: Path, weights: Path, out: Path, backend: str = "torch",
                input_size: int | None = None, mask_threshold: float = 0.5, peak_threshold: float = 0.3,
                video: bool = True, console: Console | None = None) -> dict:
    """Predict every frame of ``source_path`` into ``out``; returns a summary dict.

    Per frame: masks/NAME.png, overlays/NAME.png, json/NAME.json (electrodes + centrelines) and
    rows of electrodes.csv. Sequences (video, DICOM) also get overlay.mp4 (tracked ids) and
    motion.csv (coronary sinus displacement). Files of frames done before an error are kept.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cathx.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text
    from cathx.inference.predictor import Predictor
    from cathx.inference.sources import open_source
    from cathx.inference.visualize import VideoWriter, encode_png, mask_png
    from cathx.postprocess.results import ELECTRODE_COLUMNS
    from cathx.postprocess.tracking import MotionCurve, Tracker

    console = console or Console(stderr=True)
    source = open_source(source_path)
    predictor = Predictor.from_checkpoint(weights, backend=backend, input_size=input_size,
                                          mask_threshold=mask_threshold, peak_threshold=peak_threshold)
    out.mkdir(parents=True, exist_ok=True)
    tracker = Tracker() if source.sequence else None
    curve = MotionCurve() if source.sequence else None
    writer = VideoWriter(out / "overlay.mp4", source.fps or 15.0) if source.sequence and video else None
    done = 0
    started = time.perf_counter()
    progress = Progress(TextColumn("[bold]predict[/]"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[fps]:.1f} fps"), TimeElapsedColumn(),
                        console=console, disable=not console.is_terminal, transient=False)
    with open(out / "electrodes.csv", "w", newline="") as table, progress:
        rows = csv.DictWriter(table, fieldnames=list(ELECTRODE_COLUMNS))
        rows.writeheader()
        task = progress.add_task("predict", total=source.length, fps=0.0)
        try:
            for frame, results in predictor.stream(source.frames()):
                if tracker is not None:
                    tracker.update(results)
                    curve.add(results, frame=results.meta.get("frame", done))
                name = str(results.meta.get("name", f"frame_{done:05d}"))
                drawn = _overlay(frame.image, results)
                atomic_write_bytes(out / "masks" / f"{name}.png", mask_png(results.mask, results.image_size))
                atomic_write_bytes(out / "overlays" / f"{name}.png", encode_png(drawn))
                atomic_write_text(out / "json" / f"{name}.json", results.to_json() + "\n")
                rows.writerows(results.electrode_rows())
                table.flush()
                if writer is not None:
                    writer.write(drawn)
                done += 1
                progress.update(task, advance=1, fps=done / max(time.perf_counter() - started, 1e-9))
        finally:
            if writer is not None:
                writer.close()
            if curve is not None and done:
                lines = ["frame,x,y,dx,dy"] + [
                    ",".join("" if v != v else f"{v:.3f}" if i else str(int(v)) for i, v in enumerate(row))
                    for row in curve.curve()
                ]
                atomic_write_text(out / "motion.csv", "\n".join(lines) + "\n")
    elapsed = time.perf_counter() - started
    summary = {"source": str(source_path), "kind": source.kind, "frames": done, "seconds": round(elapsed, 3),
               "fps": round(done / max(elapsed, 1e-9), 2), "backend": backend, "weights": str(weights),
               "input_size": predictor.input_size, "problems": source.problems}
    atomic_write_json(out / "summary.json", summary)
    return summary


OVERLAY_MAX_SIDE = 2048  # overlays are for looking at: larger frames are drawn downscaled


def _overlay(image, results):
    """RGB overlay of ``results`` on ``image``; frames over OVERLAY_MAX_SIDE are drawn smaller."""
    import cv2

    from cathx.inference.predictor import to_unit_grey
    from cathx.postprocess.results import rescale_results

    height, width = results.image_size
    scale = OVERLAY_MAX_SIDE / max(height, width)
    if scale < 1:
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        mask = None
        if results.mask is not None:
            mask = cv2.resize(results.mask, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
        image = cv2.resize(image, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        results = rescale_results(results, size, mask)
    return results.plot(image if image.dtype == "uint8" else to_unit_grey(image))


def register(app: typer.Typer) -> None:
    @app.command()
    def predict(
        source: Annotated[Path, typer.Argument(
            help="image, folder of images, video (mp4/avi), DICOM file or folder")],
        weights: Annotated[Path, typer.Option("--weights", "-w", help="checkpoint (.pt/.ckpt) or .onnx")],
        out: Annotated[Path, typer.Option("--out", "-o", help="output folder")],
        backend: Annotated[str | None, typer.Option(
            help=BACKEND_HELP + "; default: onnx for .onnx weights")] = None,
        input_size: Annotated[int | None, typer.Option(
            help="network input side (default: from the weights, or 256)")] = None,
        mask_threshold: Annotated[float, typer.Option(help="mask probability threshold")] = 0.5,
        peak_threshold: Annotated[float, typer.Option(help="electrode peak probability threshold")] = 0.3,
        video: Annotated[bool, typer.Option(help="write overlay.mp4 for sequences")] = True,
    ) -> None:
        """Segment catheters, find electrodes, centrelines and catheter types in every frame of SOURCE."""
        backend = backend or ("onnx" if weights.suffix.lower() == ".onnx" else "torch")
        if backend not in ("torch", "onnx"):
            raise CathxError(f"--backend {backend!r}: choose from torch, onnx")
        summary = run_predict(source, weights, out, backend, input_size, mask_threshold, peak_threshold,
                              video)
        Console().print(f"{summary['frames']} frames -> {out} ({summary['fps']} fps, {backend})",
                        highlight=False, soft_wrap=True)

    @app.command("export")
    def export_command(
        weights: Annotated[Path, typer.Option("--weights", "-w", help="cathx checkpoint")],
        out: Annotated[Path, typer.Option("--out", "-o", help="output .onnx file")],
        format: Annotated[str, typer.Option("--format", help="export format (onnx)")] = "onnx",
        input_size: Annotated[int, typer.Option(
            help="input side recorded in the model and used to verify")] = 256,
        opset: Annotated[int, typer.Option(help="ONNX opset (>= 17)")] = 17,
        fp16: Annotated[bool, typer.Option(
            "--fp16", help="also write a float16 copy (NAME.fp16.onnx)")] = False,
        int8: Annotated[bool, typer.Option(
            "--int8", help="also write a static int8 QDQ copy (NAME.int8.onnx)")] = False,
        calibration_frames: Annotated[int, typer.Option(help="synthetic frames for int8 calibration")] = 32,
    ) -> None:
        """Export a checkpoint to ONNX and check ONNX Runtime against PyTorch."""
        from cathx.export.onnx import export_checkpoint

        if format != "onnx":
            raise CathxError(f"--format {format!r}: choose from onnx")
        report = export_checkpoint(weights, out, input_size=input_size, opset=opset, fp16=fp16, int8=int8,
                                   calibration_frames=calibration_frames)
        console = Console()
        for variant in report["variants"]:
            deviation = ", ".join(f"{k} {v:.2e}" for k, v in variant["max_abs_diff"].items())
            console.print(f"{variant['path']}: max |ORT - torch| {deviation}", highlight=False,
                          soft_wrap=True)

    @app.command()
    def bench(
        weights: Annotated[Path | None, typer.Option("--weights", "-w", help="checkpoint to time")] = None,
        model: Annotated[list[str] | None, typer.Option(
            "--model", "-m", help="model profile(s) (random weights)")] = None,
        backend: Annotated[list[str] | None, typer.Option(
            help="torch and/or onnx (repeat to compare)")] = None,
        int8: Annotated[bool, typer.Option(
            "--int8", help="also time static int8 QDQ through ONNX Runtime")] = False,
        frames: Annotated[int, typer.Option(help="timed frames per variant (after warm-up)")] = 30,
        input_size: Annotated[int, typer.Option(help="input side")] = 256,
        out: Annotated[Path, typer.Option(help="results folder")] = Path("benchmarks/results"),
        device: Annotated[str, typer.Option(help="cpu or cuda")] = "cpu",
        threads: Annotated[int | None, typer.Option(help="torch and ORT intra-op threads")] = None,
    ) -> None:
        """Per-frame latency (read, preprocess, network, postprocess, total), FPS, memory, FLOP floor."""
        from cathx.inference.bench import run_bench

        if weights is None and not model:
            model = ["paper", "realtime"]
        report = run_bench(weights=weights, models=model or [], backends=backend or ["torch", "onnx"],
                           int8=int8, frames=frames, input_size=input_size, out=out, device=device,
                           threads=threads)
        Console().print(report["markdown"], highlight=False, soft_wrap=True)
