"""Speed and memory of the synthetic generator (`write_dataset`).

Speed: 1,000 frames of 256x256 with 2 worker processes (target: at most 60 s on the 2-core
machine), and the same with 1 worker for the parallel speed-up. Memory: peak RSS of the main
process and of the largest worker when writing a short and a long dataset; if writing is
streamed, the two peaks are about equal although the long dataset is several times larger.
Every run is a fresh process, so the peaks belong to that run alone. CPU use is (user + system
time of the process and its workers) / wall time: about 2.0 means both cores were busy.

Writes benchmarks/results/synth_speed.json and synth_speed.md. Run under the CPU lock:
    flock /tmp/cathx-cpu.lock .venv/bin/python benchmarks/synth_speed.py
(``--quick`` for a smoke run: 100 frames, memory at 200 vs 600 frames).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

_CHILD = r"""
import json, resource, sys, time
from cathx.data.synthetic import write_dataset
out, n, size, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
start = time.perf_counter()
write_dataset(out, n, size=size, seed=0, workers=workers)
wall = time.perf_counter() - start
own = resource.getrusage(resource.RUSAGE_SELF)
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
peak = 0.0
with open("/proc/self/status") as handle:
    for line in handle:
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024.0
print(json.dumps({"wall_s": wall, "main_peak_rss_mb": peak, "worker_peak_rss_mb": kids.ru_maxrss / 1024.0,
                  "cpu_s": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime}))
"""


def run_once(n: int, size: int, workers: int) -> dict:
    """Generate ``n`` frames in a fresh process; returns timing, CPU and peak-memory figures."""
    with tempfile.TemporaryDirectory(prefix="cathx-synth-bench-") as tmp:
        out = Path(tmp) / "ds"
        env = dict(os.environ, NO_ALBUMENTATIONS_UPDATE="1", HF_HUB_OFFLINE="1")
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(out), str(n), str(size), str(workers)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"generator run failed:\n{proc.stderr[-2000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        disk = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    result.update(
        {
            "frames": n,
            "size": size,
            "workers": workers,
            "frames_per_s": n / result["wall_s"],
            "cpu_use": result["cpu_s"] / result["wall_s"],
            "dataset_mb": disk / 2**20,
        }
    )
    return result


def _commit() -> str | None:
    """The git commit being measured (None outside a checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
            check=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src/cathx/data/synthetic"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + ("+uncommitted" if dirty.stdout.strip() else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run (not the reported figures)")
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--memory-frames", type=int, nargs=2, default=(2000, 6000))
    args = parser.parse_args()
    if args.quick:
        args.frames, args.memory_frames = 100, (200, 600)

    load_before = os.getloadavg()
    speed_2 = run_once(args.frames, args.size, 2)
    speed_1 = run_once(max(args.frames // 4, 20), args.size, 1)
    short = run_once(args.memory_frames[0], args.size, 2)
    long = run_once(args.memory_frames[1], args.size, 2)
    report = {
        "benchmark": "synth_speed",
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_before": [round(v, 2) for v in load_before],
        },
        "quick": args.quick,
        "commit": _commit(),
        "target": f"{args.frames} frames of {args.size}x{args.size} in <= 60 s with 2 workers",
        "speed_2_workers": speed_2,
        "speed_1_worker": speed_1,
        "parallel_speedup": speed_2["frames_per_s"] / speed_1["frames_per_s"],
        "meets_target": bool(speed_2["wall_s"] <= 60.0 * args.frames / 1000.0),
        "memory_short": short,
        "memory_long": long,
        "memory_growth_mb": {
            "main": long["main_peak_rss_mb"] - short["main_peak_rss_mb"],
            "worker": long["worker_peak_rss_mb"] - short["worker_peak_rss_mb"],
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "synth_speed.json").write_text(json.dumps(report, indent=2) + "\n")
    s2, s1 = speed_2, speed_1
    lines = [
        "# Synthetic generator: speed and memory",
        "",
        f"Measured {report['date_utc']} at commit {report['commit']} on {report['machine']['cpus']} CPUs "
        "(load average before: "
        f"{', '.join(map(str, report['machine']['load_average_before']))}: a load above 0 means other jobs "
        "shared the CPU and slowed these timings). Command: `flock /tmp/cathx-cpu.lock .venv/bin/python benchmarks/synth_speed.py`"
        + (" --quick (smoke run)" if args.quick else "")
        + ".",
        "",
        "| run | frames | workers | wall (s) | frames/s | CPU use (cores) | main peak RSS (MiB) | worker peak RSS (MiB) | on disk (MiB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in (("speed", s2), ("speed, serial", s1), ("memory, short", short), ("memory, long", long)):
        lines.append(
            f"| {name} | {r['frames']} | {r['workers']} | {r['wall_s']:.1f} | {r['frames_per_s']:.1f} | "
            f"{r['cpu_use']:.2f} | {r['main_peak_rss_mb']:.0f} | {r['worker_peak_rss_mb']:.0f} | "
            f"{r['dataset_mb']:.1f} |"
        )
    lines += [
        "",
        (
            f"- Target ({report['target']}): {'met' if report['meets_target'] else 'NOT met'}: "
            f"{s2['wall_s']:.1f} s for {s2['frames']} frames; 2 workers are {report['parallel_speedup']:.2f}x one worker."
        ),
        (
            f"- Memory from {short['frames']} to {long['frames']} frames: main process "
            f"{report['memory_growth_mb']['main']:+.1f} MiB, worker {report['memory_growth_mb']['worker']:+.1f} MiB "
            "(frames are streamed to disk; annotations.json is assembled from JSON-lines parts without loading them)."
        ),
    ]
    (RESULTS / "synth_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
