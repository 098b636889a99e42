"""What machine this is, in one line: benchmark figures are only comparable on the same kind."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_description(cpuinfo: str | None = None) -> str:
    """e.g. "AMD EPYC (family 25 model 1), 2 CPUs, AVX2": model name, its CPU family and model
    numbers, logical CPUs and the widest vector ISA.

    The ISA matters for the figures: oneDNN and ONNX Runtime pick AVX-512 / VNNI kernels when
    they exist (int8 in particular), so the same model runs at very different speeds on AVX2.
    The family and model numbers tell CPU generations apart where a virtual machine names them
    all "AMD EPYC": two AVX2-only EPYCs trained the same 20-minute benchmark run for 775 and
    1,313 steps. ``cpuinfo``: text of /proc/cpuinfo (read when None; absent on non-Linux systems).
    """
    model, flags = _model_and_flags(cpuinfo)
    generation = _family_and_model(cpuinfo)
    if generation:
        model = f"{model} ({generation})" if model else generation
    if "avx512f" in flags:
        isa = "AVX-512 + VNNI" if "avx512_vnni" in flags else "AVX-512"
    elif "avx2" in flags:
        isa = "AVX2 + VNNI" if "avx_vnni" in flags else "AVX2"
    else:
        isa = "no AVX2" if flags else "ISA unknown"
    return f"{model or platform.processor() or platform.machine()}, {usable_cpus()} CPUs, {isa}"


def render_workers(cap: int = 2) -> int:
    """Processes to render synthetic frames with when the user gave no count: one per CPU, at
    most ``cap`` (2: the machines this project targets have two, and more processes than CPUs
    only add memory). The files written do not depend on it."""
    return max(1, min(cap, usable_cpus()))


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask (taskset, a container's cpuset) where the
    system has one, else every CPU; at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _family_and_model(cpuinfo: str | None) -> str:
    """"family F model M" from the first "cpu family" and "model" lines of /proc/cpuinfo's text
    (read when None); "" when either is missing."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text(errors="replace") if path.is_file() else ""
    found: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("cpu family", "model") and key not in found:
            found[key] = value.strip()
        if len(found) == 2:
            return f"family {found['cpu family']} model {found['model']}"
    return ""


def _model_and_flags(cpuinfo: str | None) -> tuple[str, set[str]]:
    """The first "model name" and "flags" of /proc/cpuinfo's text (read when None)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text(errors="replace") if path.is_file() else ""
    model, flags = "", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    return model, flags


def training_precision(precision: str, on_cpu: bool, cpuinfo: str | None = None) -> tuple[str, str | None]:
    """(precision to train in, why it differs from ``precision`` or None).

    bfloat16 autocast speeds CPU training up only where the CPU computes in bfloat16 (AVX-512
    BF16 or AMX). Elsewhere it is emulated: on an AVX2-only EPYC a step of the cathx-fluoro network
    (batch 8, 256 px, 2 threads) took 30 s against 2.6-3.3 s in float32, so a recipe asking for
    "bf16-mixed" trains in "32-true" there. A CPU whose flags cannot be read is trusted.
    """
    if precision != "bf16-mixed" or not on_cpu:
        return precision, None
    if native_bf16(cpuinfo):
        return precision, None
    return "32-true", (f"precision bf16-mixed needs a CPU with AVX-512 BF16 or AMX; this one ({cpu_description(cpuinfo)}) "
                       "would emulate bfloat16 several times slower than float32: training in 32-true instead")


INFERENCE_PRECISIONS = ("auto", "fp32", "bf16")


def native_bf16(cpuinfo: str | None = None, unknown: bool = True) -> bool:
    """True where the CPU computes in bfloat16 (AVX-512 BF16 or AMX); ``unknown`` where its flags
    cannot be read (no /proc/cpuinfo): trusted when bfloat16 was asked for, as in ``training_precision``."""
    _, flags = _model_and_flags(cpuinfo)
    return unknown if not flags else bool(flags & {"avx512_bf16", "amx_bf16"})


def inference_precision(precision: str, device: str = "cpu", cpuinfo: str | None = None) -> tuple[str, str | None]:
    """(precision a torch network predicts in, "fp32" or "bf16"; why it differs from ``precision`` or None).

    "auto" is bf16 on a CPU known to compute in bfloat16 and fp32 elsewhere (CUDA and CPUs whose
    flags cannot be read included: untested here). On the AMD EPYC with AVX-512 BF16 the shipped cathx-fluoro ran its network in 19.5 ms
    instead of 31 ms (2 threads, 256 px) with its card metrics within 0.0015 (docs/inference.md).
    An explicit "bf16" on a CPU that would emulate it falls back to fp32 with the reason, as training does.
    ValueError (one line listing the choices) for another name.
    """
    if precision not in INFERENCE_PRECISIONS:
        raise ValueError(f"precision {precision!r}: choose from {', '.join(INFERENCE_PRECISIONS)}")
    on_cpu = not str(device).startswith("cuda")
    if precision == "fp32":
        return "fp32", None
    if precision == "auto":
        return ("bf16" if on_cpu and native_bf16(cpuinfo, unknown=False) else "fp32"), None
    if on_cpu and not native_bf16(cpuinfo):
        return "fp32", (f"precision bf16 needs a CPU with AVX-512 BF16 or AMX; this one ({cpu_description(cpuinfo)}) "
                        "would emulate bfloat16 several times slower than float32: predicting in fp32 instead")
    return "bf16", None
