"""`cathx predict`, `cathx export` and `cathx bench`: run, deploy and time a trained model."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from cathx.cli import checks
from cathx.errors import CathxError
from cathx.fileio import check_output_file, check_output_folder

DEFAULT_WEIGHTS = Path("cathx-fluoro")
WEIGHTS_HELP = "shipped model name (cathx-fluoro; see `cathx models`) or a checkpoint (.safetensors/.pt/.ckpt)"
BACKEND_HELP = "torch (PyTorch eager, channels-last) or onnx (ONNX Runtime on an exported .onnx file)"
DEVICE_HELP = "auto: CUDA when available, else CPU"
BENCH_ROOT = Path("runs/bench")  # each run gets a new folder here: committed results are never overwritten
Backend = Literal["torch", "onnx"]
Precision = Literal["auto", "fp32", "bf16"]
PRECISION_HELP = ("what the torch network computes in: auto (bf16 on a CPU with AVX-512 BF16 or AMX, "
                  "about 0.6x the network time, else fp32), fp32 or bf16")


class BenchBackend(StrEnum):
    """--backend of bench, a repeatable option (typer takes Enum members in a list, not a Literal)."""

    torch = "torch"
    onnx = "onnx"


class BenchPrecision(StrEnum):
    """--precision of bench, repeatable: the torch backend's precisions to time."""

    auto = "auto"
    fp32 = "fp32"
    bf16 = "bf16"


def register(app: typer.Typer) -> None:
    @app.command()
    def predict(
        source: Annotated[Path, typer.Argument(
            help="image, folder of images, multi-page TIFF (a sequence), video (mp4/avi), DICOM file or folder")],
        out: Annotated[Path, typer.Option("--out", "-o", help="output folder")],
        weights: Annotated[Path, typer.Option("--weights", "-w", help=WEIGHTS_HELP + " or .onnx")] = DEFAULT_WEIGHTS,
        backend: Annotated[Backend | None, typer.Option(
            help=BACKEND_HELP + "; default: onnx for .onnx weights")] = None,
        input_size: Annotated[int | None, typer.Option(
            help="network input side (default: from the weights, or 256)")] = None,
        mask_threshold: Annotated[float, typer.Option(help="mask probability threshold")] = 0.5,
        peak_threshold: Annotated[float, typer.Option(help="electrode peak probability threshold")] = 0.3,
        video: Annotated[bool, typer.Option(help="write overlay.mp4 for sequences")] = True,
        bit_depth: Annotated[int | None, typer.Option(
            help="significant bits of 16-bit image files that declare none (no PNG sBIT); default: the "
                 "container's full range (65535). DICOM frames are scaled by their own header "
                 "(BitsStored, else BitsAllocated, and their LUTs)")] = None,
        device: Annotated[str, typer.Option(metavar=checks.DEVICE_METAVAR, help=DEVICE_HELP)] = "cpu",
        tta: Annotated[bool, typer.Option(
            "--tta", help="average the mask over each frame and its mirror image: better edges, twice "
                          "the network time (torch backend, local engine only)")] = False,
        precision: Annotated[Precision, typer.Option(help=PRECISION_HELP)] = "auto",
        engine: Annotated[Literal["local", "ray"], typer.Option(
            help="local: this process; ray: Ray Data over many inputs (SOURCE a folder tree, a CSV "
                 "manifest of paths or a quoted glob), resumable, see docs/scale.md")] = "local",
        address: Annotated[str | None, typer.Option(
            help="with --engine ray: the Ray cluster (auto, HOST:PORT); omitted: a local instance")] = None,
        workers: Annotated[int, typer.Option(
            help="with --engine ray: actors, one model load each")] = 2,
    ) -> None:
        """Segment catheters, find electrodes, centrelines and catheter types in every frame of SOURCE.

        OUT must be new, empty or an earlier `cathx predict` output: files cathx did not write are
        never overwritten."""
        if engine == "local" and address is not None:
            raise CathxError(f"--address {address}: only used with --engine ray")
        checks.at_least(workers, 1, "--workers")
        backend = backend or ("onnx" if weights.suffix.lower() == ".onnx" else "torch")
        checks.input_size(input_size)
        checks.between(mask_threshold, 0.0, 1.0, "--mask-threshold", open_ends=True)
        checks.between(peak_threshold, 0.0, 1.0, "--peak-threshold")
        checks.bit_depth(bit_depth)
        device = checks.device(device)
        if tta and engine == "ray":
            raise CathxError("--tta: only with --engine local")
        if engine == "ray":
            from cathx.inference.batch import run_batch_predict

            summary = run_batch_predict(str(source), weights, out, workers=workers, address=address,
                                        backend=backend, input_size=input_size, mask_threshold=mask_threshold,
                                        peak_threshold=peak_threshold, video=video, bit_depth=bit_depth,
                                        device=device, precision=precision)
            Console().print(f"{summary['predicted']} inputs predicted, {summary['skipped']} already done, "
                            f"{summary['failed']} failed; {summary['frames']} frames in {summary['seconds']} s "
                            f"({summary['fps']} frames/s; {summary['fps_predicting']} once the actors were predicting) "
                            f"-> {out}", highlight=False, soft_wrap=True)
            for line in summary["problems"]:
                Console(stderr=True).print(f"failed: {line}", markup=False, highlight=False, soft_wrap=True)
            return
        from cathx.inference.run import run_predict

        summary = run_predict(source, weights, out, backend, input_size, mask_threshold, peak_threshold,
                              video, bit_depth=bit_depth, device=device, tta=tta, precision=precision)
        Console().print(f"{summary['frames']} frames -> {out} ({summary['fps']} fps, {backend}, "
                        f"{summary['precision']})",
                        highlight=False, soft_wrap=True)
        from cathx.data.formats.summary import problem_report

        for line in problem_report(summary.get("problems", []), str(source)):
            Console(stderr=True).print(line, markup=False, highlight=False, soft_wrap=True)

    @app.command("export")
    def export_command(
        out: Annotated[Path, typer.Option("--out", "-o", help="output .onnx (or .safetensors) file")],
        weights: Annotated[Path, typer.Option("--weights", "-w", help=WEIGHTS_HELP)] = DEFAULT_WEIGHTS,
        format: Annotated[Literal["onnx", "safetensors"], typer.Option(
            "--format", help="onnx, or safetensors: a training checkpoint in the shipped models' format "
                             "(no pickle; its trained input side inside)")] = "onnx",
        input_size: Annotated[int | None, typer.Option(
            help="input side recorded in the model and used to verify (default: the side the network "
                 "was trained at)")] = None,
        opset: Annotated[int, typer.Option(help="ONNX opset (>= 17)")] = 17,
        fp16: Annotated[bool, typer.Option(
            "--fp16", help="also write a float16 copy (NAME.fp16.onnx)")] = False,
        int8: Annotated[bool, typer.Option(
            "--int8", help="also write a static int8 QDQ copy (NAME.int8.onnx)")] = False,
        calibration_frames: Annotated[int, typer.Option(help="synthetic frames for int8 calibration")] = 32,
    ) -> None:
        """Export a checkpoint to ONNX and check ONNX Runtime against PyTorch, or to safetensors."""
        if format == "safetensors":
            from cathx.export.weights import export_safetensors

            if out.suffix.lower() != ".safetensors":
                raise CathxError(f"--out {out}: must be a .safetensors file name")
            onnx_only = [name for name, given in (("--input-size", input_size is not None), ("--opset", opset != 17),
                                                  ("--fp16", fp16), ("--int8", int8),
                                                  ("--calibration-frames", calibration_frames != 32)) if given]
            if onnx_only:  # said, not silently ignored: the weights are copied as trained
                raise CathxError(f"{onnx_only[0]}: an ONNX export option; --format safetensors copies the "
                                 "weights as trained (input size included)")
            check_output_file(out)
            written = export_safetensors(weights, out)
            Console().print(f"{written['path']}: {written['tensors']} tensors, {written['megabytes']} MB, "
                            f"input {written['input_size']} px", highlight=False, soft_wrap=True)
            return
        from cathx.export.onnx import export_checkpoint

        checks.input_size(input_size)
        checks.at_least(opset, 17, "--opset")
        checks.at_least(calibration_frames, 1, "--calibration-frames")
        if out.suffix.lower() != ".onnx":
            raise CathxError(f"--out {out}: must be a .onnx file name")
        check_output_file(out)
        for flag, given, copy in (("--fp16", fp16, ".fp16.onnx"), ("--int8", int8, ".int8.onnx")):
            if given:  # checked before the export, not after minutes of it
                check_output_file(out.with_suffix(copy), flag)
        report = export_checkpoint(weights, out, input_size=input_size, opset=opset, fp16=fp16, int8=int8,
                                   calibration_frames=calibration_frames)
        console = Console()
        for variant in report["variants"]:
            deviation = ", ".join(f"{k} {v:.2e}" for k, v in variant["max_abs_diff"].items())
            console.print(f"{variant['path']}: max |ORT - torch| {deviation}", highlight=False,
                          soft_wrap=True)

    @app.command()
    def bench(
        weights: Annotated[Path | None, typer.Option("--weights", "-w", help=WEIGHTS_HELP + " to time (default: "
                                                     "cathx-fluoro unless --model is given)")] = None,
        model: Annotated[list[str] | None, typer.Option(
            "--model", "-m", help="model profile(s) (random weights)")] = None,
        backend: Annotated[list[BenchBackend] | None, typer.Option(
            help="torch and/or onnx (repeat to compare)")] = None,
        int8: Annotated[bool, typer.Option(
            "--int8", help="also time static int8 QDQ through ONNX Runtime")] = False,
        frames: Annotated[int, typer.Option(help="timed frames per variant (after warm-up)")] = 30,
        input_size: Annotated[int, typer.Option(help="input side")] = 256,
        out: Annotated[Path | None, typer.Option(
            "--out", "-o", help="results folder (default: a new folder under runs/bench)")] = None,
        device: Annotated[str, typer.Option(metavar=checks.DEVICE_METAVAR, help=DEVICE_HELP)] = "cpu",
        threads: Annotated[int | None, typer.Option(help="torch and ORT intra-op threads")] = None,
        precision: Annotated[list[BenchPrecision] | None, typer.Option(
            help="torch backend: " + PRECISION_HELP + "; repeat to compare (default auto)")] = None,
    ) -> None:
        """Per-frame latency (read, preprocess, network, postprocess, total), FPS, memory, FLOP floor."""
        from cathx.benchmarking.latency import run_bench

        if weights is None and not model:
            weights = DEFAULT_WEIGHTS
        checks.input_size(input_size)
        checks.at_least(frames, 1, "--frames")
        checks.at_least(threads, 1, "--threads")
        device = checks.device(device)
        out = check_output_folder(out or _fresh_folder(BENCH_ROOT))
        backends = [str(name) for name in backend] if backend else ["torch", "onnx"]
        report = run_bench(weights=weights, models=model or [], backends=backends,
                           int8=int8, frames=frames, input_size=input_size, out=out, device=device,
                           threads=threads, precisions=[str(p) for p in precision] if precision else None)
        Console().print(report["markdown"], highlight=False, soft_wrap=True)
        Console().print(f"results in {out}", highlight=False, soft_wrap=True)


def _fresh_folder(root: Path) -> Path:
    """A folder under ``root`` that does not exist yet, named by the local time (root/20261130-184501)."""
    import time

    stamp = time.strftime("%Y%m%d-%H%M%S")
    path, n = root / stamp, 1
    while path.exists():
        n += 1
        path = root / f"{stamp}-{n}"
    return path
