"""Model complexity: parameters, forward FLOPs and eager CPU latency per backbone and profile.

For every profile of cathx.models.MODEL_PROFILES, the paper and demo profiles at output stride
2 and 1, and every encoder at the paper's widths (latent 512, decoder 256/128, heads 64):
parameters, GFLOPs at 256x256 (torch FlopCounterMode, multiply-add = 2 FLOPs), and eager
PyTorch forward latency at batch 1 on the CPU in the default (NCHW) and channels-last memory
formats. The two formats are timed interleaved (ABAB...) after a
warm-up, so machine load hits both alike; the medians and their ratio are reported. The paper's
parameter count is compared with ours in docs/model.md.

Writes benchmarks/results/model_complexity.json and .md. Run under the CPU lock:
    flock /tmp/cathx-cpu.lock .venv/bin/python benchmarks/model_complexity.py [--runs 30] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import torch  # noqa: E402

from cathx.fileio import atomic_write_json, atomic_write_text  # noqa: E402
from cathx.models import ENCODER_NAMES, MODEL_PROFILES, build_model, model_profile  # noqa: E402
from cathx.models.complexity import complexity_report  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
PAPER_PARAMETERS_M = 32.39


@torch.no_grad()
def interleaved_latency(model: torch.nn.Module, size: int, runs: int, warmup: int) -> dict[str, float]:
    """Median forward latency (ms) at batch 1 in NCHW and channels-last, timed alternately."""
    model.eval()
    default = model
    fast = build_twin(model).to(memory_format=torch.channels_last).eval()
    image = torch.rand(1, 1, size, size)
    image_cl = image.contiguous(memory_format=torch.channels_last)
    for _ in range(warmup):
        default(image)
        fast(image_cl)
    times: dict[str, list[float]] = {"default": [], "channels_last": []}
    for _ in range(runs):
        for name, net, x in (("default", default, image), ("channels_last", fast, image_cl)):
            start = time.perf_counter()
            net(x)
            times[name].append((time.perf_counter() - start) * 1000)
    default_ms = statistics.median(times["default"])
    cl_ms = statistics.median(times["channels_last"])
    return {"latency_ms_default": default_ms, "latency_ms_channels_last": cl_ms,
            "channels_last_speedup": default_ms / cl_ms}


def build_twin(model: torch.nn.Module) -> torch.nn.Module:
    import copy

    return copy.deepcopy(model)


def measure(label: str, kind: str, cfg, size: int, runs: int, warmup: int) -> dict:
    torch.manual_seed(0)
    model = build_model(cfg)
    row = {"name": label, "kind": kind, "encoder": cfg.encoder, "latent": cfg.latent_channels,
           "decoder": list(cfg.decoder_channels), "head": cfg.head_channels, "output_stride": cfg.output_stride}
    report = complexity_report(model, size=size)
    row.update(parameters=report["parameters"], parameters_m=round(report["parameters_m"], 3),
               gflops=round(report["gflops"], 3))
    encoder_params = sum(p.numel() for p in model.encoder.parameters())
    row["encoder_parameters_m"] = round(encoder_params / 1e6, 3)
    if runs:
        row.update({k: round(v, 3) for k, v in interleaved_latency(model, size, runs, warmup).items()})
    return row


def markdown(result: dict) -> str:
    lines = [
        "# Model complexity",
        "",
        f"Input {result['size']}x{result['size']}x1, batch 1, torch {result['torch']}, {result['threads']} threads, "
        f"{result['runs']} timed runs per format (interleaved) after {result['warmup']} warm-up runs; "
        "latency is the median, eager mode, CPU. FLOPs: torch FlopCounterMode, multiply-add = 2 FLOPs. "
        "Timings move when other jobs share the CPU: compare ratios within a row.",
        "",
        "| name | kind | encoder | widths (latent / decoder / head) | stride | params (M) | of which encoder (M) | GFLOPs | "
        "NCHW ms | channels-last ms | CL speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        widths = f"{row['latent']} / {row['decoder'][0]}-{row['decoder'][1]} / {row['head']}"
        lines.append(
            f"| {row['name']} | {row['kind']} | {row['encoder']} | {widths} | {row['output_stride']} | {row['parameters_m']:.2f} | "
            f"{row['encoder_parameters_m']:.2f} | {row['gflops']:.2f} | {row.get('latency_ms_default', float('nan')):.1f} | "
            f"{row.get('latency_ms_channels_last', float('nan')):.1f} | {row.get('channels_last_speedup', float('nan')):.2f} |"
        )
    paper = next(r for r in result["rows"] if r["name"] == "paper")
    lines += [
        "",
        f"The paper reports {PAPER_PARAMETERS_M} M parameters for its ResNet34 model; our paper profile has "
        f"{paper['parameters_m']:.2f} M (see docs/model.md for where the difference comes from).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="no latency, counts only")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    runs = 0 if args.quick else args.runs
    rows = []
    for name in MODEL_PROFILES:
        rows.append(measure(name, "profile", model_profile(name), args.size, runs, args.warmup))
        print(json.dumps(rows[-1]), flush=True)
    for name in ("paper", "demo"):
        for stride in (2, 1):
            rows.append(measure(f"{name}, output stride {stride}", "stride", model_profile(name, output_stride=stride),
                                args.size, runs, args.warmup))
            print(json.dumps(rows[-1]), flush=True)
    for encoder in ENCODER_NAMES:
        if encoder == "resnet34":  # same as the paper profile
            continue
        rows.append(measure(f"paper widths, {encoder}", "backbone", model_profile("paper", encoder=encoder),
                            args.size, runs, args.warmup))
        print(json.dumps(rows[-1]), flush=True)
    result = {"size": args.size, "runs": runs, "warmup": args.warmup, "threads": torch.get_num_threads(),
              "torch": torch.__version__, "machine": platform.machine(), "processor": platform.processor(),
              "cpu_count": os.cpu_count(), "paper_parameters_m": PAPER_PARAMETERS_M, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "model_complexity.json", result)
    atomic_write_text(args.out / "model_complexity.md", markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
