"""Local `cathx predict FOLDER` against `cathx predict FOLDER --engine ray --workers 2` (issue 17).

Both commands run as users run them (fresh processes, the shipped model unless --weights), on the
same folder of synthetic PNG frames, alternating local / Ray for --rounds rounds so that the
machine's drift over minutes hits both alike. Per run: wall clock of the whole command, the fps
the command reports, and for Ray also its fps once the actors were predicting (first input begun
to last input finished, like local predict's fps, which starts after its model load).

Target: Ray on 2 local workers >= 0.9x the frames/s of local predict on the same 2 cores.

Writes benchmarks/results/batch_predict_FRAMES.{json,md}. Run on an otherwise idle machine:
    .venv/bin/python benchmarks/batch_predict.py --frames 600 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
CATHX = [sys.executable, "-m", "cathx"]


def run_command(args: list[str]) -> float:
    """Run ``cathx ARGS`` to completion; its wall-clock seconds (a failure stops the benchmark)."""
    started = time.perf_counter()
    done = subprocess.run(CATHX + args, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"cathx {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    from cathx.system import cpu_description

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--weights", default="cathx-fluoro")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--tag", default="", help="suffix of the result files (batch_predict_FRAMES_TAG)")
    args = parser.parse_args()

    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="cathx-batch-bench-") as tmp:
        data = Path(tmp) / "frames"
        run_command(["synth", str(data), "--n", str(args.frames), "--size", str(args.size), "--seed", "31337"])
        images = data / "images"
        for round_index in range(args.rounds):
            for engine in ("local", "ray"):
                out = Path(tmp) / f"{engine}{round_index}"
                extra = ["--engine", "ray", "--workers", str(args.workers)] if engine == "ray" else []
                wall = run_command(["predict", str(images), "-o", str(out), "--weights", args.weights,
                                    "--no-video", *extra])
                summary = json.loads((out / "summary.json").read_text())
                runs.append({"round": round_index, "engine": engine, "wall_s": round(wall, 2),
                             "frames": summary["frames"], "fps_reported": summary["fps"],
                             "fps_wall": round(summary["frames"] / wall, 2),
                             "fps_predicting": summary.get("fps_predicting", summary["fps"])})
                shutil.rmtree(out)

    def median(engine: str, key: str) -> float:
        return statistics.median(run[key] for run in runs if run["engine"] == engine)

    ratios = {key: round(median("ray", key) / median("local", key), 3)
              for key in ("fps_wall", "fps_predicting")}
    report = {"benchmark": "batch_predict", "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "cpu": cpu_description(), "load_average_before_last_run": os.getloadavg()[0],
              "command": "python benchmarks/batch_predict.py " + " ".join(sys.argv[1:]),
              "frames": args.frames, "size": args.size, "workers": args.workers, "weights": args.weights,
              "runs": runs, "ray_over_local": ratios, "target": ">= 0.9x local frames/s",
              "met_end_to_end": ratios["fps_wall"] >= 0.9, "met_predicting": ratios["fps_predicting"] >= 0.9}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"batch_predict_{args.frames}" + (f"_{args.tag}" if args.tag else "")
    runtime = "ONNX Runtime" if str(args.weights).lower().endswith(".onnx") else "torch"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = ["# Batch prediction: local vs Ray Data (issue 17)", "",
             f"{report['date_utc']}, {report['cpu']}. Command: `{report['command']}`. {args.frames} synthetic "
             f"{args.size}-px PNGs, weights {args.weights}, `--no-video`; local uses {runtime}'s default threads, Ray "
             f"{args.workers} actors of one {runtime} thread each. Runs alternate local / Ray.", "",
             "| round | engine | wall clock (s) | frames/s, whole command | frames/s reported | frames/s predicting |",
             "| ---: | --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['round']} | {r['engine']} | {r['wall_s']} | {r['fps_wall']} | {r['fps_reported']} | "
              f"{r['fps_predicting']} |" for r in runs]
    lines += ["", f"Ray / local (medians): whole command {ratios['fps_wall']}x, predicting "
              f"{ratios['fps_predicting']}x. Target >= 0.9x: whole command "
              f"{'met' if report['met_end_to_end'] else 'NOT met'}, predicting "
              f"{'met' if report['met_predicting'] else 'NOT met'}.",
              "'Predicting' leaves out start-up (local: the model load; Ray: starting Ray, the actors and "
              "their model loads) and shut-down; 'whole command' is what a user waits for."]
    (args.out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
