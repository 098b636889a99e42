"""End-to-end latency benchmark behind `cathx bench` and benchmarks/latency.py.

Each variant (model x backend) runs the full per-frame pipeline at batch 1: read (PNG decode from
disk), preprocess, network, post-process (peaks, mask, centrelines, assignment, types). Variants
are interleaved frame by frame so that load swings on a shared machine hit all of them alike,
and the machine's sustained fp32 matmul rate is probed in the same run (before and after) to
give each model's FLOP floor: model FLOPs / measured FLOP/s.
"""

from __future__ import annotations

import logging
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cathx.system import cpu_description

from cathx.errors import CathxError

log = logging.getLogger(__name__)

STAGES: tuple[str, ...] = ("read", "preprocess", "network", "postprocess", "total")


def matmul_gflops(seconds: float = 2.0, size: int = 1024, device: str = "cpu") -> float:
    """Sustained fp32 matmul rate (GFLOP/s): median of repeated (size x size) @ (size x size)."""
    import torch

    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    for _ in range(3):
        torch.mm(a, b)
    rates = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(rates) < 5:
        if device != "cpu":
            torch.cuda.synchronize()
        start = time.perf_counter()
        torch.mm(a, b)
        if device != "cpu":
            torch.cuda.synchronize()
        rates.append(2 * size**3 / (time.perf_counter() - start) / 1e9)
    return float(np.median(rates))


def _peak_rss_reset() -> bool:
    """Reset this process's peak resident set size (Linux: "5" into clear_refs resets VmHWM);
    False where that is not possible, so a reading is the process's peak so far."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_rss_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Variant:
    """One timed configuration."""

    name: str
    model: str
    backend: str
    gflops: float
    predictor: Any
    times: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    peak_rss_mb: float | None = None


def _frames(count: int, size: int, folder: Path) -> list[Path]:
    """Synthetic fluoroscopy frames written as 8-bit PNG (what a user feeds `cathx predict`)."""
    import cv2

    from cathx.data.synthetic import generate_images

    paths = []
    for i, image in enumerate(generate_images(count, size, seed=30_000)):
        path = folder / f"frame_{i:03d}.png"
        cv2.imwrite(str(path), (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))
        paths.append(path)
    return paths


def _variants(weights: Path | None, models: list[str], backends: list[str], int8: bool, input_size: int,
              folder: Path, device: str, threads: int | None = None, precisions: list[str] | None = None
              ) -> list[Variant]:
    import torch

    from cathx.export.onnx import export_onnx, quantize_int8
    from cathx.inference.predictor import Predictor, _type_classifier, load_torch_checkpoint
    from cathx.models import build_model, model_profile
    from cathx.models.complexity import count_flops
    from cathx.models.precision import resolve_precision

    # Each asked precision as it resolves on this machine ("auto" -> fp32 or bf16), once each.
    torch_precisions = list(dict.fromkeys(resolve_precision(asked, device) for asked in precisions or ["auto"]))
    # Spinning ORT threads would steal the CPU from the variants timed in between them.
    spin = False
    # (label, model, config, learned type decision): a checkpoint's decision is timed with it, as
    # `cathx predict` runs it (the post-processing then types catheters through it).
    sources: list[tuple[str, Any, Any, Any]] = []
    if weights is not None:
        model, config, extra = load_torch_checkpoint(Path(weights))
        sources.append((Path(weights).stem, model, config, _type_classifier(extra.get("type_classifier"), Path(weights))))
    for name in models:
        torch.manual_seed(0)
        config = model_profile(name)
        sources.append((name, build_model(config).eval(), config, None))
    variants = []
    for label, model, config, classifier in sources:
        flops = count_flops(model, input_size, int(getattr(config, "in_channels", 1))) / 1e9
        onnx_path = folder / f"{label}.onnx"
        if "onnx" in backends or int8:
            export_onnx(model, onnx_path, input_size)
        for backend in backends:
            if backend == "torch":
                for precision in torch_precisions:
                    name = "torch" if precision == "fp32" else f"torch-{precision}"
                    predictor = Predictor.from_model(model, input_size=input_size, device=device, precision=precision,
                                                     type_classifier=classifier)
                    variants.append(Variant(f"{label}/{name}", label, name, flops, predictor))
                continue
            if backend == "onnx":
                predictor = Predictor.from_checkpoint(onnx_path, backend="onnx", device=device, spinning=spin,
                                                      threads=threads, type_classifier=classifier)
            else:
                raise CathxError(f"unknown backend {backend!r}; choose from torch, onnx")
            variants.append(Variant(f"{label}/{backend}", label, backend, flops, predictor))
        if int8:
            int8_path = quantize_int8(onnx_path, folder / f"{label}.int8.onnx", frames=16,
                                      input_size=input_size)
            variants.append(Variant(f"{label}/onnx-int8", label, "onnx-int8", flops,
                                    Predictor.from_checkpoint(int8_path, backend="onnx", device=device,
                                                              spinning=spin, threads=threads,
                                                              type_classifier=classifier)))
    return variants


def _time_frame(variant: Variant, path: Path) -> dict[str, float]:
    from cathx.data.formats.imageio import decode_image_file, to_grey

    predictor = variant.predictor
    t0 = time.perf_counter()
    image = to_grey(decode_image_file(path))
    t1 = time.perf_counter()
    batch, shapes = predictor.preprocess([image], [str(path)])
    t2 = time.perf_counter()
    outputs = predictor.network(batch)
    t3 = time.perf_counter()
    predictor.postprocess(outputs, shapes)
    t4 = time.perf_counter()
    return {"read": t1 - t0, "preprocess": t2 - t1, "network": t3 - t2, "postprocess": t4 - t3,
            "total": t4 - t0}


def ideal_outputs(sample, stride: int = 4) -> dict[str, np.ndarray]:
    """Network outputs a perfect model would give for a synthetic Sample (logits), batch of 1:
    the post-processing then sees realistic masks and peaks instead of random-weight noise."""
    import torch

    from cathx.heatmap import encode_targets

    mask = np.where(sample.mask > 0, 8.0, -8.0).astype(np.float32)[None, None]
    targets = encode_targets(torch.from_numpy(sample.electrodes), torch.from_numpy(sample.electrode_sizes),
                             None, sample.image.shape, stride=stride)
    heat = targets["heatmap"].numpy().clip(1e-4, 1 - 1e-4)
    return {"mask": mask, "heatmap": np.log(heat / (1 - heat)).astype(np.float32),
            "size": targets["size"].numpy().astype(np.float32)}


def time_postprocess(frames: int = 30, input_size: int = 256, frame_size: int = 512, warmup: int = 3,
                     seed: int = 40_000) -> dict[str, float]:
    """Post-processing latency (ms, p50 / p95) on ideal outputs for synthetic frames: peak decoding,
    mask resize to ``frame_size``, centrelines, assignment, splitting, types."""
    from cathx.data.synthetic import generate_frame
    from cathx.inference.predictor import Predictor

    predictor = Predictor(runner=None, input_size=input_size)
    cases = [ideal_outputs(generate_frame(seed + i, size=input_size)) for i in range(min(frames, 10))]
    times, cpu = [], []
    for i in range(warmup + frames):
        outputs = cases[i % len(cases)]
        start, start_cpu = time.perf_counter(), time.process_time()
        predictor.postprocess(outputs, [(frame_size, frame_size)])
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1e3)
            cpu.append((time.process_time() - start_cpu) * 1e3)
    # CPU time of this process is less inflated than wall time when other jobs share the cores.
    return {"p50": float(np.percentile(times, 50)), "p95": float(np.percentile(times, 95)),
            "cpu_p50": float(np.percentile(cpu, 50)), "frames": frames}


def run_bench(weights: Path | None = None, models: list[str] | None = None, backends: list[str] | None = None,
              int8: bool = False, frames: int = 30, warmup: int = 5, input_size: int = 256,
              frame_size: int = 512, out: Path | None = Path("benchmarks/results"), device: str = "cpu",
              probe_seconds: float = 2.0, with_ideal_postprocess: bool = True, threads: int | None = None,
              precisions: list[str] | None = None) -> dict[str, Any]:
    """Time every variant; write ``out``/latency.json and latency.md; return the report.

    threads: torch and ONNX Runtime intra-op threads (default: torch's default, ORT's default).
    precisions: the torch backend's ("auto", "fp32", "bf16"; default auto), one variant each as
    resolved on this machine: "torch" (fp32) and "torch-bf16".
    """
    import torch

    if threads:
        torch.set_num_threads(threads)
    from cathx.fileio import atomic_write_json, atomic_write_text

    if frames < 1:
        raise CathxError(f"--frames {frames}: must be at least 1")
    backends = backends or ["torch"]
    with tempfile.TemporaryDirectory(prefix="cathx-bench-") as tmp:
        folder = Path(tmp)
        paths = _frames(min(frames, 8), frame_size, folder)
        variants = _variants(weights, list(models or []), backends, int8, input_size, folder, device, threads,
                             precisions)
        if not variants:
            raise CathxError("nothing to time: give --weights or --model")
        probe_before = matmul_gflops(probe_seconds, device=device)
        reset = True
        for variant in variants:  # warm-up, and a peak memory reading per variant (every variant is loaded)
            reset = _peak_rss_reset() and reset
            for i in range(warmup):
                _time_frame(variant, paths[i % len(paths)])
            variant.peak_rss_mb = _peak_rss_mb()
        for i in range(frames):  # interleaved timed rounds
            for variant in variants:
                for stage, seconds in _time_frame(variant, paths[i % len(paths)]).items():
                    variant.times[stage].append(seconds * 1e3)
        probe_after = matmul_gflops(probe_seconds, device=device)
        postprocess_ideal = None
        if with_ideal_postprocess:
            postprocess_ideal = time_postprocess(frames, input_size, frame_size)
    machine_gflops = float(np.median([probe_before, probe_after]))
    rows = []
    for variant in variants:
        stats = {stage: {"p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95))}
                 for stage, v in variant.times.items()}
        floor_ms = variant.gflops / machine_gflops * 1e3
        rows.append({
            "variant": variant.name, "model": variant.model, "backend": variant.backend,
            "gflops": round(variant.gflops, 3), "latency_ms": stats,
            "fps": round(1e3 / stats["total"]["p50"], 2),
            "flop_floor_ms": round(floor_ms, 2),
            "network_vs_floor": round(stats["network"]["p50"] / floor_ms, 3),
            "total_vs_floor": round(stats["total"]["p50"] / floor_ms, 3),
            "peak_rss_mb": None if variant.peak_rss_mb is None else round(variant.peak_rss_mb, 1),
        })
    report = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpu": cpu_description(),
                    "torch_threads": torch.get_num_threads(), "device": device,
                    "matmul_gflops": round(machine_gflops, 1),
                    "matmul_gflops_before_after": [round(probe_before, 1), round(probe_after, 1)]},
        "settings": {"batch": 1, "input_size": input_size, "frame_size": frame_size, "frames": frames,
                     "warmup": warmup, "frame_format": "8-bit PNG from disk",
                     "peak_rss": "reset before each variant's warm-up" if reset else
                     "not resettable here: each reading is the process's peak so far"},
        "variants": rows,
        "postprocess_on_ideal_outputs_ms": postprocess_ideal,
    }
    report["markdown"] = to_markdown(report)
    if out is not None:
        out = Path(out)
        atomic_write_json(out / "latency.json", {k: v for k, v in report.items() if k != "markdown"})
        atomic_write_text(out / "latency.md", report["markdown"])
    return report


def to_markdown(report: dict[str, Any]) -> str:
    machine, settings = report["machine"], report["settings"]
    lines = [
        "# Latency (batch 1, end to end)",
        "",
        f"{report['created']}; {machine.get('cpu', machine['platform'])}; {machine['torch_threads']} torch threads; device "
        f"{machine['device']}; sustained fp32 matmul {machine['matmul_gflops']} GFLOP/s "
        f"(probes {machine['matmul_gflops_before_after']}). "
        f"Input {settings['input_size']}x{settings['input_size']}, "
        f"frames {settings['frame_size']}x{settings['frame_size']} {settings['frame_format']}; "
        f"{settings['frames']} timed frames per variant after {settings['warmup']} warm-up, interleaved. "
        "Times in ms, p50 / p95.",
        "",
        "| variant | GFLOPs | read | preprocess | network | postprocess | total | FPS | floor ms "
        "| network/floor | total/floor | peak RSS MB (process, all variants loaded) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["variants"]:
        cells = [f"{row['latency_ms'][s]['p50']:.1f} / {row['latency_ms'][s]['p95']:.1f}" for s in STAGES]
        lines.append(
            f"| {row['variant']} | {row['gflops']:.2f} | " + " | ".join(cells)
            + f" | {row['fps']:.1f} | {row['flop_floor_ms']:.1f} | {row['network_vs_floor']:.2f} "
            f"| {row['total_vs_floor']:.2f} | {row['peak_rss_mb']} |"
        )
    ideal = report.get("postprocess_on_ideal_outputs_ms")
    if ideal:
        lines += ["", "Post-processing on ideal outputs for synthetic frames (ground-truth mask and "
                  "electrode heatmap; random weights give noise masks): "
                  f"p50 {ideal['p50']:.2f} ms, p95 {ideal['p95']:.2f} ms, "
                  f"CPU time p50 {ideal['cpu_p50']:.2f} ms over {ideal['frames']} frames."]
    return "\n".join(lines) + "\n"
