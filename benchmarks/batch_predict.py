"""Local `cathx predict FOLDER` against `cathx predict FOLDER --engine ray --workers 2` (issue 17).

Both commands run as users run them (fresh processes, the shipped model unless --weights), on the
same folder of synthetic PNG frames, alternating local / Ray for --rounds rounds so that the
machine's drift over minutes hits both alike. Per run: wall clock of the whole command, the fps
the command reports, and for Ray also its fps once the actors were predicting (first input begun
to last input finished, like local predict's fps, which starts after its model load).

Target: Ray on 2 local workers >= 0.9x the frames/s of local predict on the same 2 cores.

Writes benchmarks/results/batch_predict_FRAMES.{json,md}. Run on an otherwise idle machine:
    .venv/bin/python benchmarks/batch_predict.py --frames 600 --rounds 3

``--kill-at F`` measures resumability instead (target: a rerun after a kill redoes < 5 % of the
work): one Ray run is killed (SIGKILL of its process group, as a crash or a pre-empted node would)
once a fraction F of the inputs is complete; once Ray's workers have stopped, inputs that were
begun but not completed (an item folder without its frames.parquet) are the work lost; then the
same command is rerun and its inputs counted. Counts, not timings: the machine need not be idle.
Writes benchmarks/results/batch_predict_killed_FRAMES.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
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


def count_outputs(out: Path) -> tuple[int, int]:
    """(complete inputs, begun but incomplete inputs) of a Ray run's output folder."""
    from cathx.inference.batch import FRAMES_TABLE, ITEMS  # the layout run_batch_predict writes

    items = [p for p in (out / ITEMS).iterdir() if p.is_dir()] if (out / ITEMS).is_dir() else []
    complete = sum(1 for p in items if (p / FRAMES_TABLE).is_file())
    return complete, len(items) - complete


def kill_and_rerun(images: Path, out: Path, args: argparse.Namespace) -> dict:
    """Kill a Ray run at ``args.kill_at`` of its inputs, then rerun it; what was redone."""
    command = CATHX + ["predict", str(images), "-o", str(out), "--weights", args.weights, "--no-video",
                       "--engine", "ray", "--workers", str(args.workers)]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    target = max(1, int(args.kill_at * args.frames))
    while count_outputs(out)[0] < target:
        if driver.poll() is not None:
            raise SystemExit("the Ray run ended before it could be killed: use more --frames")
        time.sleep(0.1)
    at_kill = count_outputs(out)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    # Ray's workers may outlive the killed driver by the batch they run: wait until nothing changes.
    settled, since = count_outputs(out), time.monotonic()
    while time.monotonic() - since < 5:
        time.sleep(0.5)
        now = count_outputs(out)
        if now != settled:
            settled, since = now, time.monotonic()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    rerun_s = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the rerun failed ({done.returncode}):\n{done.stderr[-2000:]}")
    summary = json.loads((out / "summary.json").read_text())
    lost = settled[1]  # begun before the kill, not completed: done again by the rerun
    return {"inputs": args.frames, "complete_at_kill": at_kill[0], "begun_incomplete_at_kill": at_kill[1],
            "complete_after_workers_stopped": settled[0], "begun_incomplete_after_workers_stopped": lost,
            "rerun_predicted": summary["predicted"], "rerun_skipped": summary["skipped"],
            "rerun_failed": summary["failed"], "rerun_wall_s": round(rerun_s, 2),
            "complete_after_rerun": count_outputs(out)[0],
            "redone_fraction_of_all_work": round(lost / args.frames, 4)}


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
    parser.add_argument("--kill-at", type=float, default=None,
                        help="measure a kill and rerun at this fraction of the inputs instead of timing")
    args = parser.parse_args()
    if args.kill_at is not None:
        with tempfile.TemporaryDirectory(prefix="cathx-batch-kill-") as tmp:
            data = Path(tmp) / "frames"
            run_command(["synth", str(data), "--n", str(args.frames), "--size", str(args.size), "--seed", "31337"])
            result = kill_and_rerun(data / "images", Path(tmp) / "ray", args)
        report = {"benchmark": "batch_predict_killed", "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "cpu": cpu_description(), "command": "python benchmarks/batch_predict.py " + " ".join(sys.argv[1:]),
                  "workers": args.workers, "weights": args.weights, "kill_at": args.kill_at, **result,
                  "target": "rerun after a kill redoes < 5 % of the work",
                  "met": result["redone_fraction_of_all_work"] < 0.05}
        stem = f"batch_predict_killed_{args.frames}" + (f"_{args.tag}" if args.tag else "")
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
        lines = ["# Batch prediction on Ray: a kill and a rerun (issue 17)", "",
                 (f"{report['date_utc']}, {report['cpu']}. Command: `{report['command']}`. {args.frames} synthetic "
                 f"{args.size}-px PNGs, weights {args.weights}, {args.workers} Ray actors; the driver's process group "
                 f"was sent SIGKILL once {result['complete_at_kill']} inputs were complete."), "",
                 "| | inputs |", "| --- | ---: |",
                 f"| complete when killed | {result['complete_at_kill']} |",
                 f"| begun, not complete, when killed | {result['begun_incomplete_at_kill']} |",
                 f"| complete once Ray's workers stopped | {result['complete_after_workers_stopped']} |",
                 (f"| begun, not complete, once they stopped (work lost) | "
                 f"{result['begun_incomplete_after_workers_stopped']} |"),
                 f"| predicted by the rerun | {result['rerun_predicted']} |",
                 f"| skipped by the rerun (already complete) | {result['rerun_skipped']} |",
                 f"| complete after the rerun | {result['complete_after_rerun']} |", "",
                 (f"Work redone: {result['redone_fraction_of_all_work']:.2%} of the inputs (target < 5 %: "
                 f"{'met' if report['met'] else 'NOT met'}). Rerun wall clock {result['rerun_wall_s']} s.")]
        (args.out / f"{stem}.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
        return

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
             (f"{report['date_utc']}, {report['cpu']}. Command: `{report['command']}`. {args.frames} synthetic "
             f"{args.size}-px PNGs, weights {args.weights}, `--no-video`; local uses {runtime}'s default threads, Ray "
             f"{args.workers} actors of one {runtime} thread each. Runs alternate local / Ray."), "",
             "| round | engine | wall clock (s) | frames/s, whole command | frames/s reported | frames/s predicting |",
             "| ---: | --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['round']} | {r['engine']} | {r['wall_s']} | {r['fps_wall']} | {r['fps_reported']} | "
              f"{r['fps_predicting']} |" for r in runs]
    lines += ["", (f"Ray / local (medians): whole command {ratios['fps_wall']}x, predicting "
              f"{ratios['fps_predicting']}x. Target >= 0.9x: whole command "
              f"{'met' if report['met_end_to_end'] else 'NOT met'}, predicting "
              f"{'met' if report['met_predicting'] else 'NOT met'}."),
              ("'Predicting' leaves out start-up (local: the model load; Ray: starting Ray, the actors and "
              "their model loads) and shut-down; 'whole command' is what a user waits for.")]
    (args.out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
