"""Cost of a model on this machine: parameters, forward FLOPs and batch-1 latency.

Latency is measured the way the paper reports runtime (one frame at a time) but on the CPU that
runs the benchmark: eager PyTorch, channels-last memory format, ``torch.inference_mode``, batch 1,
median of ``runs`` timed forwards after ``warmup`` untimed ones. CPU timings on shared machines
swing by about 25 %, so compare variants measured in the same run.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch
from torch import nn

from cathx.models.complexity import count_flops, count_parameters


@torch.inference_mode()
def measure_latency(
    model: nn.Module, size: int = 256, in_channels: int = 1, runs: int = 30, warmup: int = 5, threads: int | None = None
) -> dict[str, float]:
    """Median, 10th and 90th percentile milliseconds of a batch-1 forward (eager, channels-last)."""
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    was_training = model.training
    model.eval()
    model = model.to(memory_format=torch.channels_last)
    image = torch.rand(1, in_channels, size, size).contiguous(memory_format=torch.channels_last)
    try:
        for _ in range(warmup):
            model(image)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            model(image)
            times.append((time.perf_counter() - start) * 1000.0)
    finally:
        model.to(memory_format=torch.contiguous_format)
        model.train(was_training)
        torch.set_num_threads(previous_threads)
    times.sort()
    median = statistics.median(times)
    return {
        "latency_ms": median,
        "latency_p10_ms": times[int(0.1 * (len(times) - 1))],
        "latency_p90_ms": times[int(0.9 * (len(times) - 1))],
        "fps": 1000.0 / median,
        "runs": runs,
        "threads": torch.get_num_threads() if not threads else threads,
    }


def profile_model(model: nn.Module, size: int = 256, in_channels: int = 1, runs: int = 30, warmup: int = 5) -> dict[str, Any]:
    """Parameters (millions), GFLOPs at ``size``, and latency / FPS at ``size``; runs 0 skips timing."""
    report: dict[str, Any] = {
        "params_m": count_parameters(model) / 1e6,
        "gflops": count_flops(model, size, in_channels) / 1e9,
        "profile_size": size,
    }
    if runs > 0:
        report.update(measure_latency(model, size, in_channels, runs=runs, warmup=warmup))
    return report
