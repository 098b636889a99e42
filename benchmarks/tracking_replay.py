"""Replay the tracking benchmark's sequences through the post-processing and Tracker from cached
network outputs: a tracker or post-processing change is scored in seconds instead of minutes.

The first run for a (seed, weights, precision) runs the network once per frame and keeps its
outputs (one .npz of arrays per sequence, about 30 MB each) in ``--cache`` (default
runs/tracking_replay, ignored by git); later runs regenerate the frames and only post-process and
track. Scores are benchmarks/tracking.py's own (``score_frame``, ``score_sequence``,
``summarise``), so replays and the benchmark agree on what they count; times are not reported
(replayed frames run warm, unlike frames just after the network: time with tracking.py).

    .venv/bin/python benchmarks/tracking_replay.py --seed 80000                # a development set
    .venv/bin/python benchmarks/tracking_replay.py --seed 60000 --set velocity_gain=0.3 --set max_missed=15

``--set NAME=VALUE`` (repeatable) overrides a Tracker field for the replay (a number or true/false).
Besides the scores it prints the extra ids by sequence and by kind (``extra_id_kinds``: a fresh
track, or another true catheter's usual track).
Choose settings on development seeds (80,000, 90,000, 100,000 were used) and check them once on
the benchmark's 60,000.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[1]


def tracker_overrides(items: list[str]) -> dict:
    """['name=value', ...] -> {name: value} for Tracker fields (numbers or true/false);
    SystemExit naming the valid fields for an unknown one."""
    from cathx.postprocess.tracking import Tracker

    valid = sorted(f.name for f in fields(Tracker) if not f.name.startswith("_") and f.name != "type_classifier")
    out = {}
    for item in items:
        name, _, text = item.partition("=")
        if name not in valid or not text:
            raise SystemExit(f"--set {item!r}: expected NAME=VALUE with NAME one of {', '.join(valid)}")
        lowered = text.lower()
        if lowered in ("true", "false"):
            out[name] = lowered == "true"
        else:
            try:
                out[name] = int(text) if text.lstrip("-").isdigit() else float(text)
            except ValueError:
                raise SystemExit(f"--set {item!r}: {text!r} is not a number or true/false") from None
    return out


def cached_outputs(predictor, seed: int, sequences: int, frames: int, cache: Path, weights: Path) -> list:
    """[(sequence seed, samples, [(network outputs, shapes) per frame])] for the benchmark's sequences.

    The samples are generated again each run (the engine is deterministic per seed); the network's
    outputs come from ``cache`` (one .npz of arrays per sequence, read without pickle) or are
    computed and stored there."""
    import tracking as bench

    from cathx.data.synthetic import generate_sequence

    identity = f"{weights.resolve()}:{weights.stat().st_mtime_ns}:{predictor.precision}"
    key = hashlib.sha1(identity.encode()).hexdigest()[:10]
    folder = cache / f"{key}_{frames}f"
    config, data = bench.benchmark_config(), []
    for sequence_seed in range(seed, seed + 10 * sequences):
        if len(data) == sequences:
            break
        samples = list(generate_sequence(sequence_seed, frames=frames, size=256, config=config))
        if bench.CS not in samples[0].catheter_types:
            continue
        path = folder / f"{sequence_seed}.npz"
        if path.is_file():
            with np.load(path, allow_pickle=False) as stored:
                # Each array read once: ``stored[k]`` reads the whole array again on every access,
                # and a per-frame slice of it would keep that copy alive (30 copies per sequence).
                arrays = {k: stored[k] for k in stored.files if k != "shape"}
                shape = [tuple(int(v) for v in stored["shape"])]
            outputs = [({k: a[t:t + 1] for k, a in arrays.items()}, shape) for t in range(len(samples))]
        else:
            outputs = []
            for sample in samples:
                batch, shapes = predictor.preprocess([sample.image])
                outputs.append(({k: np.array(v) for k, v in predictor.network(batch).items()}, shapes))
            folder.mkdir(parents=True, exist_ok=True)
            stacked = {k: np.concatenate([o[k] for o, _ in outputs]) for k in outputs[0][0]}
            partial = folder / f"{sequence_seed}.part.npz"
            np.savez(partial, shape=np.asarray(outputs[0][1][0]), **stacked)
            partial.replace(path)
        data.append((sequence_seed, samples, outputs))
    return data


def extra_id_kinds(frames: list[dict]) -> dict[str, int]:
    """Sort the ids a sequence's true catheters were given beyond their usual one.

    frames: the sequence's ``score_frame`` results, in order (each frame's ``catheters`` maps a true
    catheter to the track ``id`` it carried, None where it was missed). A catheter's usual id is its
    most frequent one (the first seen among equals); every other id it carried counts once, as
    "neighbour" when it is another catheter's usual id (two catheters in one detection) and as
    "fresh" otherwise (a track started or kept apart from the catheter's own). Returns {"fresh": n,
    "neighbour": m}."""
    from collections import Counter

    lines: dict[int, list[int]] = {}
    for frame in frames:
        for c, found in frame["catheters"].items():
            if found["id"] is not None and found["id"] >= 0:  # -1: shown without an id yet
                lines.setdefault(c, []).append(found["id"])
    usual = {c: Counter(line).most_common(1)[0][0] for c, line in lines.items()}
    kinds = {"fresh": 0, "neighbour": 0}
    for c, line in lines.items():
        for other in set(line) - {usual[c]}:
            kinds["neighbour" if any(u == other for d, u in usual.items() if d != c) else "fresh"] += 1
    return kinds


def replay(predictor, data: list, overrides: dict) -> tuple[dict, list[dict]]:
    """(summary, rows) of benchmarks/tracking.py for the cached outputs through a fresh Tracker each."""
    import tracking as bench

    from cathx.postprocess.motion import MotionCurve
    from cathx.postprocess.tracking import Tracker

    rows = []
    for sequence_seed, samples, outputs in data:
        tracker, curve, frames = Tracker(type_classifier=predictor.type_classifier, reference_side=predictor.input_size, **overrides), MotionCurve(), []
        for t, (sample, (output, shapes)) in enumerate(zip(samples, outputs)):
            results = predictor.postprocess(output, shapes)[0]
            types_before = [c.type for c in results.catheters]
            tracker.update(results)
            curve.add(results, t)
            frames.append(bench.score_frame(sample, results, types_before))
        rows.append({"seed": sequence_seed, **bench.score_sequence(samples, frames, curve.curve()),
                     "extra_id_kinds": extra_id_kinds(frames)})
    return bench.summarise(rows, []), rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=60_000, help="first sequence seed (60,000: the benchmark's)")
    parser.add_argument("--sequences", type=int, default=20)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--weights", type=Path, default=ROOT / "src" / "cathx" / "weights" / "cathx-fluoro.safetensors")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    parser.add_argument("--cache", type=Path, default=ROOT / "runs" / "tracking_replay")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="Tracker field override")
    args = parser.parse_args()
    overrides = tracker_overrides(args.set)
    from cathx.inference.predictor import Predictor

    predictor = Predictor.from_checkpoint(args.weights, precision=args.precision)
    data = cached_outputs(predictor, args.seed, args.sequences, args.frames, args.cache, Path(args.weights))
    summary, rows = replay(predictor, data, overrides)
    extra = {r["seed"]: sum(n - 1 for n in r["ids"].values()) for r in rows}
    print(f"seed {args.seed}, {len(rows)} sequences, {predictor.precision}, overrides {overrides or 'none'}")
    print(f"ids per true catheter {summary['ids_per_true_catheter']:.3f}, type by track "
          f"{summary['type_accuracy_track']:.4f}, per frame {summary['type_accuracy_frame']:.4f}, recall 5 px "
          f"{summary['electrode_recall_5px']:.3f}, motion {summary['motion_coverage']:.3f} / "
          f"{summary['motion_median_error_px']:.2f} px, electrode id stability {summary['electrode_id_stability']:.3f}, "
          f"found without an id yet {summary['unidentified_share']:.4f}")
    print(f"false catheters per frame {summary['false_catheters_per_frame']:.3f} (share of shown "
          f"{summary['false_share_of_shown']:.3f}, tracks per sequence {summary['false_tracks_per_sequence']:.2f}, "
          f"with electrodes {summary['false_with_electrodes_share']:.3f}; shown as {summary['false_types']}), "
          f"electrode precision 5 px {summary['electrode_precision_5px']:.3f}")
    print("extra ids by sequence:", {k: v for k, v in extra.items() if v} or "none")
    kinds = {k: sum(r["extra_id_kinds"][k] for r in rows) for k in ("fresh", "neighbour")}
    print(f"extra ids: {kinds['fresh']} fresh tracks, {kinds['neighbour']} another true catheter's usual track")
    return 0


if __name__ == "__main__":
    sys.exit(main())
