"""What machine this is, in one line: benchmark figures are only comparable on the same kind."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_description(cpuinfo: str | None = None) -> str:
    """e.g. "AMD EPYC, 2 CPUs, AVX-512 + VNNI": model name, logical CPUs and the widest vector ISA.

    The ISA matters for the figures: oneDNN and ONNX Runtime pick AVX-512 / VNNI kernels when
    they exist (int8 in particular), so the same model runs at very different speeds on AVX2.
    ``cpuinfo``: text of /proc/cpuinfo (read when None; absent on non-Linux systems).
    """
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
    if "avx512f" in flags:
        isa = "AVX-512 + VNNI" if "avx512_vnni" in flags else "AVX-512"
    elif "avx2" in flags:
        isa = "AVX2 + VNNI" if "avx_vnni" in flags else "AVX2"
    else:
        isa = "no AVX2" if flags else "ISA unknown"
    return f"{model or platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {isa}"
