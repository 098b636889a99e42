"""torch.compile for training on CPU (issue 13, item 4): seconds per optimizer step of a network
with and without ``torch.compile``, each variant in a fresh process with an empty Inductor cache.

One step = forward under the recipe's autocast, a loss over every output, backward, AdamW step, on
random input of the recipe's training batch (``data.batch_size`` x ``data.crop`` px, channels-last
as ``trainer.channels_last`` says). The loss is the mean of every output rather than the recipe's
criterion: what compile would speed up is the network's forward and backward, which a loss does
not change. Data loading, KPIs, EMA and logging are outside the step timed here.

    python benchmarks/train_compile.py --config configs/demo.yaml --out benchmarks/results/train_compile
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = {
    "eager-bf16": {"compile": None, "precision": "bf16"},
    "compile-bf16": {"compile": "default", "precision": "bf16"},
    "compile-max-autotune-bf16": {"compile": "max-autotune-no-cudagraphs", "precision": "bf16"},
    "eager-bf16-nchw": {"compile": None, "precision": "bf16", "channels_last": False},
    "compile-bf16-nchw": {"compile": "default", "precision": "bf16", "channels_last": False},
    "eager-fp32": {"compile": None, "precision": "fp32"},
    "compile-fp32": {"compile": "default", "precision": "fp32"},
}


def time_steps(config: str, variant: str, steps: int, warmup: int, threads: int) -> dict[str, object]:
    """Run in the child process: first-step seconds (compile included) and seconds per later step."""
    import torch

    from cathx.config import from_dict
    from cathx.models import build_model
    from cathx.models.config import ModelConfig
    from cathx.training.config import load_train_config

    settings = VARIANTS[variant]
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    cfg = load_train_config(config)
    model_cfg = from_dict(ModelConfig, dict(cfg.model), where="model")
    model = build_model(model_cfg)
    channels_last = bool(settings.get("channels_last", cfg.trainer.channels_last))
    layout = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=layout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    forward = torch.compile(model, mode=settings["compile"]) if settings["compile"] else model
    side = cfg.data.crop or cfg.data.size
    image = torch.randn(cfg.data.batch_size, model_cfg.in_channels, side, side).contiguous(memory_format=layout)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings["precision"] == "bf16"):
            outputs = forward(image)
        loss = sum(value.float().mean() for value in outputs.values() if torch.is_tensor(value))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    started = time.perf_counter()
    step()
    first = time.perf_counter() - started
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return {"variant": variant, "compile": settings["compile"], "precision": settings["precision"],
            "first_step_s": round(first, 2),
            "step_s_median": round(statistics.median(times), 4), "step_s_min": round(min(times), 4),
            "steps_timed": steps, "batch": cfg.data.batch_size, "side": side, "channels_last": channels_last,
            "threads": threads, "torch": torch.__version__}


def run_child(args: argparse.Namespace, variant: str) -> dict[str, object]:
    """One variant in a fresh interpreter with its own empty Inductor cache (cold compile)."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "OMP_NUM_THREADS": str(args.threads)}
        command = [sys.executable, __file__, "--child", variant, "--config", args.config,
                   "--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=args.timeout)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {"variant": variant, "error": tail[0][:200]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_report(out: Path, config: str, rows: list[dict[str, object]], cpu: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    payload = {"config": config, "cpu": cpu, "rows": rows}
    (out / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    eager = {(row["precision"], row["channels_last"]): row["step_s_median"] for row in rows
             if row.get("compile") is None and "step_s_median" in row}
    lines = ["| variant | first step s (compile included) | s per step, median | vs eager, same precision and layout |",
             "|---|---:|---:|---:|"]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['variant']} | failed: {row['error']} | | |")
            continue
        base = eager.get((row["precision"], row["channels_last"]))
        ratio = f"{row['step_s_median'] / base:.2f}x" if base else "-"
        lines.append(f"| {row['variant']} | {row['first_step_s']} | {row['step_s_median']} | {ratio} |")
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/demo.yaml")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=900, help="seconds per variant")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/train_compile"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(time_steps(args.config, args.child, args.steps, args.warmup, args.threads)))
        return 0
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        print(f"error: --variants: unknown {unknown[0]!r}; choose from {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    from cathx.system import cpu_description

    cpu = cpu_description()
    print(f"CPU: {cpu}", flush=True)
    rows = []
    for variant in variants:
        rows.append(run_child(args, variant))
        print(json.dumps(rows[-1]), flush=True)
    write_report(args.out, args.config, rows, cpu)
    return 0


if __name__ == "__main__":
    sys.exit(main())
