"""Latency, parameters and FLOPs of every smp baseline (and CathMTL for reference) on this CPU.

Each model is the multi-task variant the benchmark trains (mask + heatmap + size outputs), with
one input channel, random weights, eval mode. Latency: eager PyTorch, channels-last, batch 1,
256x256, ``torch.inference_mode``; timings are interleaved across models in rounds (so a slow
minute on a shared machine hits all models alike) and the median over all timed runs is kept.

Writes benchmarks/results/baselines_latency.json and .md. Run under the CPU lock:
    flock /tmp/cathx-cpu.lock .venv/bin/python benchmarks/baselines_latency.py
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from cathx.models.complexity import count_flops, count_parameters  # noqa: E402
from cathx.fileio import atomic_write_json, atomic_write_text  # noqa: E402
from cathx.models.baselines import BASELINES, ENCODERS, build_baseline  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def candidates(quick: bool) -> dict[str, tuple]:
    """name -> (factory, description)."""
    models: dict[str, tuple] = {}
    names = [n for n in BASELINES if not n.startswith("seed_")]
    encoders = ENCODERS[:1] if quick else ENCODERS
    for name in names[:2] if quick else names:
        for encoder in encoders:
            models[f"{name}-{encoder}"] = (lambda n=name, e=encoder: build_baseline(n, e, "multitask"), "multi-task")
    models["seed_unet_effb2 (segmentation only)"] = (
        lambda: build_baseline("seed_unet_effb2", tasks="segmentation"),
        "the seed's configuration",
    )
    from cathx.models import ModelConfig, build_model

    models["cathmtl (paper profile)"] = (lambda: build_model(ModelConfig()), "CathMTL, ResNet34, for reference")
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds over all models")
    parser.add_argument("--runs", type=int, default=8, help="timed forwards per model per round")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="two architectures, one encoder (smoke check)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    image = torch.rand(1, 1, args.size, args.size).contiguous(memory_format=torch.channels_last)
    built = {}
    info = {}
    for name, (factory, description) in candidates(args.quick).items():
        model = factory().eval()
        info[name] = {
            "description": description,
            "params_m": count_parameters(model) / 1e6,
            "gflops": count_flops(model, args.size) / 1e9,
        }
        built[name] = model.to(memory_format=torch.channels_last)
    times: dict[str, list[float]] = {name: [] for name in built}
    with torch.inference_mode():
        for model in built.values():
            for _ in range(args.warmup):
                model(image)
        for _ in range(args.rounds):
            for name, model in built.items():
                for _ in range(args.runs):
                    start = time.perf_counter()
                    model(image)
                    times[name].append((time.perf_counter() - start) * 1000.0)
    rows = []
    for name, samples in times.items():
        samples.sort()
        median = statistics.median(samples)
        rows.append({
            "model": name,
            **info[name],
            "latency_ms": median,
            "latency_p10_ms": samples[int(0.1 * (len(samples) - 1))],
            "latency_p90_ms": samples[int(0.9 * (len(samples) - 1))],
            "fps": 1000.0 / median,
            "timed_runs": len(samples),
        })
    setup = {
        "size": args.size,
        "batch": 1,
        "threads": args.threads,
        "rounds": args.rounds,
        "runs_per_round": args.runs,
        "mode": "eager, channels-last, inference_mode, fp32",
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    suffix = "_quick" if args.quick else ""
    atomic_write_json(args.out / f"baselines_latency{suffix}.json", {"setup": setup, "models": rows})
    lines = [
        "# Baseline latency on this CPU",
        "",
        f"Batch 1, {args.size}x{args.size}, 1 input channel, eager PyTorch {torch.__version__} channels-last fp32, "
        f"{args.threads} threads; median of {args.rounds} interleaved rounds x {args.runs} runs "
        f"(p10-p90 in brackets). Measured {setup['date_utc']} UTC on a shared {setup['cpus']}-core machine: "
        "compare rows of this table, not across runs or machines (another job on the CPU moves every row).",
        "Multi-task models (mask + heatmap + size heads) unless stated. FLOPs: torch FlopCounterMode, "
        "2 per multiply-add, convolutions and matmuls only.",
        "",
        "| Model | Params (M) | GFLOPs | Latency (ms) | FPS |",
        "|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=lambda r: r["latency_ms"]):
        lines.append(
            f"| {row['model']} | {row['params_m']:.2f} | {row['gflops']:.2f} | {row['latency_ms']:.1f} "
            f"({row['latency_p10_ms']:.1f}-{row['latency_p90_ms']:.1f}) | {row['fps']:.1f} |"
        )
    atomic_write_text(args.out / f"baselines_latency{suffix}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
