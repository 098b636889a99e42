"""Tracking, track-level catheter type and the CS motion curve on synthetic sequences.

Each sequence is a moving synthetic scene with a coronary sinus (CS) catheter and distractors
crossing the catheters (wires across the heart, guidewires, sternal wires). Every frame goes
through the post-processing and the Tracker, from the ground-truth mask and electrodes (the
upper bound a perfect network would give), from the ground-truth mask with perturbed electrodes
(15 % missed per frame, 0.7 px jitter, one false electrode per frame on average: a stand-in for
a detector's flicker), and, with ``--weights``, from a trained network's predicted mask and
electrodes. Scored per sequence and pooled:

- ids per true catheter: distinct track ids a labelled catheter was given over the sequence (a
  frame's catheter is the predicted catheter holding most of its electrodes matched within 5 px;
  on a tie, the one whose centreline runs along more of its labelled centreline: ``holder``;
  until 2026-12-07 the first listed, which read a catheter whose rings were split evenly between
  its own piece and a neighbour's detection as whichever came first in the frame's list);
  id -1 (a new track not yet confirmed, ``Tracker.confirm_frames``) is no id, and the share of
  found (frame, catheter) pairs shown with it is reported beside (``unidentified_share``);
- type accuracy per (frame, catheter): the track's type, and the frame's own classification
  for comparison (a catheter whose electrodes were all missed counts as wrong);
- electrode recall within 5 px (one-to-one matching), and electrode id stability: share of the
  frames in which a labelled electrode carries its most frequent tracked id;
- motion: coverage (frames with a CS displacement among frames where the CS catheter is
  visible) and its error against the displacement of the true CS electrodes' centroid (frames
  where all of them are visible, both curves taken from the same reference frame);
- post-processing + tracking time per frame (p50).

Writes benchmarks/results/tracking.json and tracking.md.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python benchmarks/tracking.py [--sequences 20] [--weights W]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

RECALL_PX = 5.0
COVER_PX = 3.0  # a labelled centreline point lies along a predicted catheter (ties of ``holder``)
ALONG_SHARE = 0.5  # a predicted catheter with less of its centreline than this within COVER_PX of any
# labelled centreline, and holding no labelled catheter, is a false catheter (a wire, lead or edge)
CS = "cs_decapolar"
DROP, JITTER_PX, FALSE_PER_FRAME = 0.15, 0.7, 1.0  # the "perturbed" source


def benchmark_config():
    """The default engine with distractors crossing the catheters in every sequence."""
    from cathx.data.synthetic import SynthConfig

    base = SynthConfig()
    distractors = dict(base.distractor_probability, crossing_wires=1.0)
    return replace(base, distractor_probability=distractors, guidewire_probability=0.6,
                   sternal_wire_probability=0.5)


def holder(counts: np.ndarray, centreline, catheters) -> int:
    """The predicted catheter that a labelled catheter is in this frame: the one holding most of its
    matched electrodes (``counts``: per predicted catheter). On a tie, the one whose centreline runs
    along more of the labelled ``centreline`` ((M, 2) pixels; points within COVER_PX), then the first:
    a catheter's rings split evenly between its own piece and a neighbour's detection would
    otherwise be read as whichever the post-processing happened to list first."""
    tied = np.flatnonzero(counts == counts.max())
    if len(tied) == 1 or centreline is None or len(centreline) == 0:
        return int(tied[0])
    from cathx.postprocess.assignment import project_to_polylines

    lines = [np.asarray(catheters[k].centreline, np.float64).reshape(-1, 2) for k in tied]
    if any(len(line) == 0 for line in lines):
        return int(tied[0])
    gap, _ = project_to_polylines(np.asarray(centreline, np.float64), lines)
    cover = (gap <= COVER_PX).sum(axis=1)
    return int(tied[int(np.argmax(cover))])


def false_catheters(results, held: set[int], centrelines) -> list[int]:
    """Indices of the predicted catheters shown with an id (>= 0) that are no labelled catheter:
    they hold none (``held``: the ``holder`` of each labelled catheter found in the frame) and less
    than ALONG_SHARE of their centreline lies within COVER_PX of a labelled ``centrelines`` ((M, 2)
    pixels each). A piece of a real catheter cut off by a crossing runs along its labelled
    centreline and is not counted; a sternal-wire loop, an ECG lead or a bone edge is."""
    from cathx.postprocess.assignment import project_to_polylines

    labelled = [np.asarray(c, np.float64).reshape(-1, 2) for c in centrelines if len(c) > 1]
    out = []
    for k, catheter in enumerate(results.catheters):
        line = np.asarray(catheter.centreline, np.float64).reshape(-1, 2)
        if k in held or catheter.id < 0 or len(line) == 0:
            continue
        if labelled:
            gap, _ = project_to_polylines(line, labelled)
            if (gap.min(axis=0) <= COVER_PX).mean() >= ALONG_SHARE:  # gap: (labelled, points)
                continue
        out.append(k)
    return out


def score_frame(sample, results, types_before: list[str]) -> dict:
    """Match labelled electrodes to predicted ones (<= RECALL_PX) and read what each labelled
    catheter became. ``types_before``: the frame's own catheter types (before tracking)."""
    from cathx.postprocess.tracking import match

    truth = np.asarray(sample.electrodes, np.float64).reshape(-1, 2)
    owners = np.asarray(sample.electrode_catheter_ids)
    found = np.asarray(results.electrodes, np.float64).reshape(-1, 2)
    pairs = []
    if len(truth) and len(found):
        pairs = match(np.linalg.norm(truth[:, None] - found[None], axis=2), RECALL_PX)
    partner = dict(pairs)
    catheters, holder_of = {}, {}
    for c, kind in enumerate(sample.catheter_types):
        members = np.flatnonzero(owners == c)
        if len(members) == 0:
            continue
        held = [int(results.electrode_catheter[partner[g]]) for g in members if g in partner
                and results.electrode_catheter[partner[g]] >= 0]
        if not held:
            catheters[c] = {"type": kind, "id": None, "track_type": "missed", "frame_type": "missed"}
            continue
        k = holder(np.bincount(held), sample.centrelines[c] if c < len(sample.centrelines) else None,
                   results.catheters)
        holder_of[c] = k
        catheters[c] = {"type": kind, "id": int(results.catheters[k].id),
                        "track_type": results.catheters[k].type,
                        "frame_type": types_before[k] if k < len(types_before) else "missed"}
    electrode_ids = {}
    for g, p in pairs:
        c = int(owners[g])
        position = int(np.sum(owners[:g] == c))  # order within its catheter's labelled electrodes
        electrode_ids[(c, position, int(np.sum(owners == c)))] = int(results.electrode_ids[p])
    false = false_catheters(results, set(holder_of.values()), sample.centrelines)
    return {"matched": len(pairs), "electrodes": len(truth), "found_electrodes": len(found),
            "catheters": catheters, "electrode_ids": electrode_ids,
            "shown": int(sum(c.id >= 0 for c in results.catheters)),
            "false": [(int(results.catheters[k].id), results.catheters[k].type,
                       int(np.sum(np.asarray(results.electrode_catheter) == k))) for k in false]}


def score_sequence(samples: list, frames: list[dict], motion) -> dict:
    """Pool one sequence's frame scores and compare its motion curve with the truth."""
    ids: dict[int, set] = {}
    pairs_track, pairs_frame = [], []
    found_pairs = unidentified = 0  # (frame, catheter) pairs found; of them shown without an id (not yet confirmed)
    for frame in frames:
        for c, found in frame["catheters"].items():
            found_pairs += found["id"] is not None
            unidentified += found["id"] is not None and found["id"] < 0
            pairs_track.append((found["type"], found["track_type"]))
            pairs_frame.append((found["type"], found["frame_type"]))
            if found["id"] is not None and found["id"] >= 0:  # -1: shown without an id (not yet confirmed)
                ids.setdefault(c, set()).add(found["id"])
    # Electrode id stability, over frames where the catheter's full set of electrodes is labelled.
    full = {}
    for frame in frames:
        for (c, _, count) in frame["electrode_ids"]:
            full[c] = max(full.get(c, 0), count)
    history: dict[tuple[int, int], list[int]] = {}
    for frame in frames:
        for (c, position, count), eid in frame["electrode_ids"].items():
            if count == full[c]:
                history.setdefault((c, position), []).append(eid)
    stable = [np.bincount(np.asarray(v) - min(v)).max() / len(v) for v in history.values() if v]

    cs = samples[0].catheter_types.index(CS)
    centroids, counts = [], []
    for sample in samples:
        members = sample.electrode_catheter_ids == cs
        counts.append(int(members.sum()))
        centroids.append(sample.electrodes[members].mean(axis=0) if members.any() else np.full(2, np.nan))
    counts, centroids = np.asarray(counts), np.asarray(centroids, np.float64)
    visible = counts > 0
    has_value = motion.quality != "missing"
    usable = np.flatnonzero((counts == counts.max()) & has_value)
    errors = []
    if len(usable):
        ref = usable[0]
        truth = centroids[usable] - centroids[ref]
        found = motion.displacement[usable] - motion.displacement[ref]
        errors = np.linalg.norm(found - truth, axis=1).tolist()
    quality = {q: int(np.sum(motion.quality[visible] == q)) for q in np.unique(motion.quality[visible])}
    false = [f for frame in frames for f in frame["false"]]
    found_any = {c for frame in frames for c, f in frame["catheters"].items() if f["id"] is not None}
    return {"ids": {int(c): len(v) for c, v in ids.items()}, "catheters": len(ids),
            "frames": len(frames), "shown": sum(f["shown"] for f in frames),
            "never_identified": len(found_any - set(ids)),
            "false_pairs": len(false), "false_tracks": len({f[0] for f in false}),
            "false_types": [f[1] for f in false], "false_with_electrodes": sum(f[2] > 0 for f in false),
            "found_electrodes": sum(f["found_electrodes"] for f in frames),
            "found_pairs": found_pairs, "unidentified_pairs": unidentified,
            "pairs_track": pairs_track, "pairs_frame": pairs_frame,
            "matched": sum(f["matched"] for f in frames), "electrodes": sum(f["electrodes"] for f in frames),
            "electrode_id_stability": float(np.mean(stable)) if stable else None,
            "cs_visible_frames": int(visible.sum()),
            "cs_frames_with_motion": int((visible & has_value).sum()),
            "motion_quality": quality, "motion_errors_px": errors,
            "cs_motion_range_px": float(np.ptp(np.linalg.norm(centroids[visible] - centroids[visible][0],
                                                              axis=1)))}


def perturbed_peaks(sample, rng: np.random.Generator) -> np.ndarray:
    """Ground-truth electrodes as a middling detector might report them: each missed with
    probability DROP, the rest moved by Gaussian JITTER_PX, plus false electrodes on the mask
    (Poisson, mean FALSE_PER_FRAME). (K, 5) peaks [x, y, score, w, h]."""
    keep = rng.random(len(sample.electrodes)) >= DROP
    points = sample.electrodes[keep] + rng.normal(0.0, JITTER_PX, (int(keep.sum()), 2))
    sizes = sample.electrode_sizes[keep]
    on_mask = np.argwhere(sample.mask > 0)
    extra = min(int(rng.poisson(FALSE_PER_FRAME)), len(on_mask))
    if extra:
        rows = on_mask[rng.choice(len(on_mask), extra, replace=False)][:, ::-1].astype(np.float64)
        points, sizes = np.vstack([points, rows]), np.vstack([sizes, np.full((extra, 2), 3.0)])
    return np.concatenate([points, np.ones((len(points), 1)), sizes], 1).astype(np.float32)


def run_sequence(samples: list, source=None, seed: int = 0) -> tuple[dict, list[tuple[float, float]]]:
    """Post-process and track one sequence; (scores, per frame (post-processing ms, tracking ms)).
    source: None (ground truth), "perturbed" (perturbed_peaks on the true mask) or a Predictor."""
    from cathx.postprocess.results import analyse_frame
    from cathx.postprocess.motion import MotionCurve
    from cathx.postprocess.tracking import Tracker

    predictor = source if source not in (None, "perturbed") else None
    tracker, curve = (Tracker() if predictor is None else predictor.tracker()), MotionCurve()
    frames, times = [], []
    rng = np.random.default_rng(seed)
    for t, sample in enumerate(samples):
        if predictor is None:
            start = time.perf_counter()
            if source == "perturbed":
                peaks = perturbed_peaks(sample, rng)
            else:
                scores = np.ones((len(sample.electrodes), 1))
                peaks = np.concatenate([sample.electrodes, scores, sample.electrode_sizes], 1)
            results = analyse_frame(sample.mask, peaks)
            post_ms = (time.perf_counter() - start) * 1e3
        else:
            results = predictor(sample.image)
            post_ms = float(results.meta["timings_ms"]["postprocess"])
        types_before = [c.type for c in results.catheters]
        start = time.perf_counter()
        tracker.update(results)
        curve.add(results, t)
        times.append((post_ms, (time.perf_counter() - start) * 1e3))
        frames.append(score_frame(sample, results, types_before))
    return score_sequence(samples, frames, curve.curve()), times


def summarise(rows: list[dict], times: list[tuple[float, float]]) -> dict:
    from cathx.postprocess.type_evaluation import type_accuracy

    ids = [n for r in rows for n in r["ids"].values()]
    errors = [e for r in rows for e in r["motion_errors_px"]]
    stability = [r["electrode_id_stability"] for r in rows if r["electrode_id_stability"] is not None]
    visible = sum(r["cs_visible_frames"] for r in rows)
    track = type_accuracy([p for r in rows for p in r["pairs_track"]])
    frame = type_accuracy([p for r in rows for p in r["pairs_frame"]])
    return {
        "ids_per_true_catheter": float(np.mean(ids)) if ids else None,
        "ids_per_true_catheter_max": int(max(ids)) if ids else None,
        "catheters_single_id": float(np.mean(np.asarray(ids) == 1)) if ids else None,
        "never_identified": sum(r["never_identified"] for r in rows),
        "unidentified_share": sum(r["unidentified_pairs"] for r in rows) / max(sum(r["found_pairs"] for r in rows), 1),
        "type_accuracy_track": track["accuracy"], "type_accuracy_frame": frame["accuracy"],
        "type_pairs": track["count"],
        "type_per_true_type_track": {k: v["accuracy"] for k, v in track["per_type"].items()},
        "type_confusion_track": track["confusion"],
        "electrode_recall_5px": sum(r["matched"] for r in rows) / max(sum(r["electrodes"] for r in rows), 1),
        "electrode_precision_5px": sum(r["matched"] for r in rows) / max(sum(r["found_electrodes"] for r in rows), 1),
        "false_catheters_per_frame": sum(r["false_pairs"] for r in rows) / max(sum(r["frames"] for r in rows), 1),
        "false_share_of_shown": sum(r["false_pairs"] for r in rows) / max(sum(r["shown"] for r in rows), 1),
        "false_tracks_per_sequence": float(np.mean([r["false_tracks"] for r in rows])) if rows else None,
        "false_with_electrodes_share": sum(r["false_with_electrodes"] for r in rows)
        / max(sum(r["false_pairs"] for r in rows), 1),
        "false_types": dict(Counter(t for r in rows for t in r["false_types"]).most_common()),
        "electrode_id_stability": float(np.mean(stability)) if stability else None,
        "motion_coverage": sum(r["cs_frames_with_motion"] for r in rows) / max(visible, 1),
        "motion_median_error_px": float(np.median(errors)) if errors else None,
        "motion_p90_error_px": float(np.percentile(errors, 90)) if errors else None,
        "motion_error_frames": len(errors),
        "cs_motion_range_px_median": float(np.median([r["cs_motion_range_px"] for r in rows]))
        if rows else None,
        "postprocess_tracking_ms_p50": float(np.median([a + b for a, b in times])) if times else None,
        "tracking_ms_p50": float(np.median([b for _, b in times])) if times else None,
        "tracking_ms_p90": float(np.percentile([b for _, b in times], 90)) if times else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=20, help="sequences that contain a CS catheter")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=60_000)
    parser.add_argument("--weights", type=Path, default=None,
                        help="also score from this network's predictions")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                        help="what the network computes in (cathx predict --precision)")
    args = parser.parse_args()
    from cathx.data.synthetic import generate_sequence
    from cathx.fileio import atomic_write_json, atomic_write_text
    from cathx.system import cpu_description

    predictor = None
    if args.weights is not None:
        from cathx.inference.predictor import Predictor

        predictor = Predictor.from_checkpoint(args.weights, precision=args.precision)
    config = benchmark_config()
    sources = {"ground_truth": None, "ground_truth_perturbed": "perturbed"}
    if predictor is not None:
        sources["predictions"] = predictor
    rows: dict[str, list] = {name: [] for name in sources}
    times: dict[str, list] = {name: [] for name in sources}
    seeds: list[int] = []
    for seed in range(args.seed, args.seed + 10 * args.sequences):
        if len(seeds) == args.sequences:
            break
        samples = list(generate_sequence(seed, frames=args.frames, size=args.size, config=config))
        if CS not in samples[0].catheter_types:
            continue
        seeds.append(seed)
        for name, source in sources.items():
            row, spent = run_sequence(samples, source, seed)
            row["type_accuracy_track"] = float(np.mean([a == b for a, b in row["pairs_track"]]))
            rows[name].append({"seed": seed, **row})
            times[name] += spent
    summary = {name: summarise(rows[name], times[name]) for name in sources}
    for name in sources:  # the pooled pairs are in the summary's confusion matrix
        rows[name] = [{k: v for k, v in r.items() if not k.startswith("pairs") and k != "false_types"}
                      for r in rows[name]]
    threads = os.environ.get("OMP_NUM_THREADS")
    command = (f"OMP_NUM_THREADS={threads} " if threads else "") + f"nice -n {os.nice(0)} " \
        ".venv/bin/python benchmarks/tracking.py " + " ".join(sys.argv[1:])
    report = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "command": command.strip(),
              "cpu": cpu_description(), "load_average_1min": round(os.getloadavg()[0], 2),
              "frames": args.frames, "size": args.size, "seeds": seeds,
              "weights": str(args.weights) if args.weights else None,
              "precision": predictor.precision if args.weights else None,
              "config": {"crossing_wires": 1.0, "guidewire_probability": 0.6,
                         "sternal_wire_probability": 0.5},
              "summary": summary, "sequences": rows}
    atomic_write_json(args.out / "tracking.json", report)
    markdown = render_markdown(report)
    atomic_write_text(args.out / "tracking.md", markdown)
    print(markdown)


def render_markdown(report: dict) -> str:
    def fmt(value, digits=3):
        return "n/a" if value is None else f"{value:.{digits}f}"

    lines = [
        "# Tracking, track-level type and CS motion curve (synthetic sequences)", "",
        f"{len(report['seeds'])} sequences of {report['frames']} frames at {report['size']}x{report['size']} "
        "with a CS catheter and wires crossing the heart in every sequence.", "",
        f"Command: `{report['command']}`  ",
        f"CPU: {report['cpu']} (1-minute load average {report['load_average_1min']} at the end: "
        "times are only comparable at equal load)  ",
        f"Weights: {report['weights'] or 'none (no trained network scored)'}"
        + (f", network in {report['precision']} (--precision)" if report.get("precision") else ""), "",
        "Rows: `ground_truth` runs the post-processing and tracking on the true mask and electrodes; "
        "`ground_truth_perturbed` on the true mask with electrodes perturbed as a middling detector "
        f"would report them ({DROP:.0%} missed per frame, {JITTER_PX} px jitter, {FALSE_PER_FRAME:g} false "
        "electrode per frame on average); `predictions` (with --weights) on a network's output. "
        "Type accuracy per frame is each frame's own classification, for comparison with the track's.", "",
        "| source | ids per true catheter (max) | single id | type acc. track | type acc. per frame "
        "| electrode recall 5 px | electrode id stability | motion coverage | motion median err. px (p90) "
        "| post + track ms p50 | track ms p50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in report["summary"].items():
        lines.append(
            f"| {name} | {fmt(s['ids_per_true_catheter'], 3)} ({s['ids_per_true_catheter_max'] or 'n/a'}) "
            f"| {fmt(s['catheters_single_id'])} | {fmt(s['type_accuracy_track'])} "
            f"| {fmt(s['type_accuracy_frame'])} | {fmt(s['electrode_recall_5px'])} "
            f"| {fmt(s['electrode_id_stability'])} | {fmt(s['motion_coverage'])} "
            f"| {fmt(s['motion_median_error_px'], 2)} ({fmt(s['motion_p90_error_px'], 2)}) "
            f"| {fmt(s['postprocess_tracking_ms_p50'], 2)} | {fmt(s['tracking_ms_p50'], 2)} |")
    lines += ["", "Found (frame, catheter) pairs shown without an id yet (a new track, not yet confirmed): "
              + ", ".join(f"{name} {s['unidentified_share']:.2%}" for name, s in report["summary"].items()
                          if s.get("unidentified_share") is not None) + "; true catheters found but never "
              "shown with an id: " + ", ".join(f"{name} {s.get('never_identified', 'n/a')}"
                                              for name, s in report["summary"].items()) + "."]
    lines += ["", "False catheters: catheters shown with an id that are no labelled catheter (they hold none "
              f"of its electrodes and under {ALONG_SHARE:.0%} of their centreline lies within {COVER_PX:g} px "
              "of a labelled one: wires, leads, bone edges); electrode precision: found electrodes within "
              f"{RECALL_PX:g} px of a labelled one (one-to-one).", "",
              "| source | false catheters per frame | share of shown catheters | false tracks per sequence "
              "| of them with electrodes | shown as | electrode precision 5 px |", "|---|---|---|---|---|---|---|"]
    for name, s in report["summary"].items():
        shown_as = ", ".join(f"{k} {v}" for k, v in s.get("false_types", {}).items()) or "-"
        lines.append(f"| {name} | {fmt(s.get('false_catheters_per_frame'))} | {fmt(s.get('false_share_of_shown'))} "
                     f"| {fmt(s.get('false_tracks_per_sequence'), 2)} | {fmt(s.get('false_with_electrodes_share'))} "
                     f"| {shown_as} | {fmt(s.get('electrode_precision_5px'))} |")
    lines += ["", "Type accuracy per true type (track):", ""]
    for name, s in report["summary"].items():
        per = ", ".join(f"{k} {v:.3f}" for k, v in sorted(s["type_per_true_type_track"].items()))
        lines.append(f"- {name}: {per}")
    lines += ["", "Targets (issue 14): <= 1.1 ids per true catheter, type >= 85 % of (frame, catheter) "
              "pairs, motion in >= 95 % of frames with the CS visible, median error <= 1 px, "
              "post-processing + tracking <= 3 ms p50.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
