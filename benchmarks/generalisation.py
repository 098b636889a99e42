"""Generalisation proxy: train with one family of synthetic factors held out, test on frames that
have it, and compare with an in-distribution test set of the same model.

For each family (collimation, wires and leads, noise level, noise texture, anatomy scale, devices,
display processing) and each
engine variant, a CathMTL network (the recipe of configs/benchmark_cpu.yaml, a fixed number of
optimizer steps so that machine load changes the wall time, not the result) is trained on frames
generated *without* the family's held-out values, then scored on

- ``in_dist``: fresh frames from the training engine (another seed), and
- ``held_out``: fresh frames with the family's held-out values switched on, and
- ``common``: the same held-out frames for every variant, from today's randomised engine with
  the family switched on (the variants' own test sets differ in difficulty, so their ratios alone
  can mislead: a harder in-distribution set lowers the denominator).

The ratio held_out / in_dist of mean J and AP50 is the figure of issue 12 (target >= 0.85).

The recipe is the network of configs/benchmark_cpu.yaml with the shipped model's training choices
(no sample selection, bfloat16 autocast).

Variants:
- ``baseline``: the engine as it was before the domain-randomisation work (its new factors off,
  its old ranges) and no intensity augmentation in training;
- ``randomised``: today's engine defaults and the default training augmentation;
- ``engine_only``: today's engine defaults, no intensity augmentation (isolates the augmentation);
- ``augment_only``: the baseline engine with the default training augmentation (isolates the engine);
- ``oracle``: trained *on* the held-out conditions (today's engine with the family's held-out values,
  default augmentation). Its held-out set is the very frames ``randomised`` is tested on, so
  ``randomised`` held-out J / ``oracle`` held-out J separates generalisation from difficulty: a
  family whose held-out frames are simply harder (low dose) has a low ratio even for a model that
  generalises perfectly, and the oracle shows how much of the ratio is that;
- ``correlated_noise``: ``randomised`` with spatially correlated noise added to the training
  augmentation (``data.noise: correlated``);
- ``quantum_noise``: ``randomised`` with ``QuantumNoise`` in the training augmentation
  (``data.noise: quantum``: noise growing towards dense, dark parts, with a grain);
- ``wide_scale``: ``randomised`` with the training scale jitter widened from +-15 % to +-30 %
  (``data.scale: 0.3``; nnU-Net zooms by 0.7-1.4): magnification variety that does not come from
  the engine's pixel spacing;
- ``local_norm``: ``randomised`` with the network normalising its input by local contrast
  (``model.input_norm: local``, cathx.models.input_norm): invariance to display curves by design;
- ``local_norm_wide_scale``: ``local_norm`` with ``wide_scale``'s jitter (the shipped network's input
  normalisation with magnification variety from the augmentation);
- ``full``: today's engine defaults with nothing held out (the family's held-out values lie inside
  or beside its default ranges), default augmentation: what the variety itself buys on the
  held-out frames, e.g. for ``devices``, whose held-out look only the new default ranges contain.

    .venv/bin/python benchmarks/generalisation.py [--families a,b] [--variants baseline,randomised]
        [--seeds 0,1] [--train-frames 800] [--test-frames 60] [--steps 150,600] [--out DIR]

Runs already recorded in OUT/generalisation.json are skipped, so an interrupted benchmark
continues where it stopped. Results: benchmarks/results/generalisation.{json,md}.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np

from cathx.data.synthetic.config import NOMINAL_LOOK
from cathx.training.config import DataConfig

ROOT = Path(__file__).resolve().parents[1]

# Engine settings before the domain-randomisation work: every factor added since switched off
# and the ranges of that time (see docs/synthetic.md, "What transfers").
BASELINE_ENGINE: dict = {
    "distractor_probability": {},
    "clavicle_probability": 0.0,
    "scapula_probability": 0.0,
    "arm_probability": 0.0,
    "endplate": (0.0, 0.0),
    "lut_probability": 0.0,
    "invert_probability": 0.0,
    "text_probability": 0.0,
    "gain_pattern": (0.0, 0.0),
    "iris_probability": 0.08,
    "iris_radius": (0.5, 0.7),
    "collimator_rotation_probability": 0.0,
    "dose": (500.0, 6000.0),
    "electronic_noise": (0.5, 3.0),
    "detector_blur_px": (0.25, 0.6),
    "scatter_fraction": (0.05, 0.25),
    "edge_enhance": (0.2, 0.8),
    "gamma": (0.75, 1.3),
    **NOMINAL_LOOK,
}
# family -> (what training never sees, what the held-out test always has)
FAMILIES: dict[str, tuple[dict, dict]] = {
    "circular_collimation": (
        {"iris_probability": 0.0, "collimator_rotation_probability": 0.0},
        {"iris_probability": 1.0, "iris_radius": (0.42, 0.55)},
    ),
    "wires_and_leads": (
        {"sternal_wire_probability": 0.0, "ecg_probability": 0.0, "wire_families_off": True},
        {"sternal_wire_probability": 1.0, "ecg_probability": 1.0, "ecg_leads": (3, 5),
         "distractor_probability": {"crossing_wires": 1.0, "icd_lead": 0.5}},
    ),
    "noise": (
        {"dose": (3000.0, 8000.0), "electronic_noise": (0.5, 1.0), "detector_blur_px": (0.25, 0.4)},
        {"dose": (400.0, 800.0), "electronic_noise": (2.0, 3.0), "detector_blur_px": (0.7, 1.0)},
    ),
    # another detector at the same dose: coarse, correlated grain and gain bands instead of fine
    # grain (the "noise" family above changes the noise level, so its held-out frames are also harder)
    "noise_texture": (
        {"detector_blur_px": (0.2, 0.4), "gain_pattern": (0.0, 0.005)},
        {"detector_blur_px": (0.8, 1.0), "gain_pattern": (0.02, 0.03)},
    ),
    "anatomy_scale": (
        {"pixel_spacing_mm": (0.8, 0.95)},
        {"pixel_spacing_mm": (1.15, 1.3)},
    ),
    # another manufacturer's catheters: thinner, fainter shafts, longer and denser rings, wider gaps
    "devices": (
        NOMINAL_LOOK,  # the catheter types' own look (every multiplier 1)
        {"radius_scale": (0.85, 0.9), "shaft_opacity_scale": (0.6, 0.75), "electrode_opacity_scale": (1.15, 1.4),
         "electrode_length_scale": (1.25, 1.5), "electrode_spacing_scale": (1.1, 1.2)},
    ),
    "display": (
        {"lut_probability": 0.0, "invert_probability": 0.0, "text_probability": 0.0,
         "edge_enhance_probability": 0.0, "gamma": (0.95, 1.05)},
        {"lut_probability": 1.0, "text_probability": 1.0, "edge_enhance_probability": 1.0,
         "edge_enhance": (0.8, 1.2), "gamma": (0.7, 0.8)},
    ),
}
WIRE_DISTRACTORS = ("crossing_wires", "icd_lead")
# family -> settings beyond today's default ranges (the held-out values above lie inside them or at
# their edge, so a model trained on the defaults has seen them): for scoring finished models, whose
# training saw every family (``--score-weights``). What no training of cathx has seen, in each family.
BEYOND: dict[str, dict] = {
    "circular_collimation": {"iris_probability": 1.0, "iris_radius": (0.32, 0.42),
                             "collimator_rotation_probability": 1.0},
    "wires_and_leads": {"sternal_wire_probability": 1.0, "ecg_probability": 1.0, "ecg_leads": (5, 7),
                        "distractor_probability": {"crossing_wires": 1.0, "icd_lead": 1.0}},
    "noise": {"dose": (200.0, 400.0), "electronic_noise": (3.0, 4.0)},
    "noise_texture": {"detector_blur_px": (1.1, 1.4), "gain_pattern": (0.035, 0.05)},
    "anatomy_scale": {"pixel_spacing_mm": (1.25, 1.4)},
    "devices": {"radius_scale": (0.7, 0.8), "shaft_opacity_scale": (0.4, 0.55)},
    "display": {"lut_probability": 1.0, "text_probability": 1.0, "edge_enhance_probability": 1.0,
                "edge_enhance": (1.3, 1.8), "gamma": (0.5, 0.65)},
}
DEFAULT_SCALE = DataConfig.scale  # the training scale jitter of every recipe, +-15 %


class Variant(NamedTuple):
    engine: str  # "baseline" or "randomised"
    intensity: float  # training intensity augmentation (data.intensity)
    noise: str = "white"  # its noise kinds (data.noise)
    scale: float = DEFAULT_SCALE  # training scale jitter (data.scale)
    input_norm: str = "none"  # the network's input normalisation (model.input_norm)
    look_alikes: float = 0.0  # probability of procedural look-alike distractors in *training* frames only
    input_norm_window: int = 31  # model.input_norm_window
    wire_width: tuple[float, float] = (1.0, 1.0)  # SynthConfig.wire_width_scale of the training frames only


VARIANTS: dict[str, Variant] = {
    "baseline": Variant("baseline", 0.0),
    "randomised": Variant("randomised", 0.8),
    "engine_only": Variant("randomised", 0.0),
    "augment_only": Variant("baseline", 0.8),
    "oracle": Variant("randomised", 0.8),
    "correlated_noise": Variant("randomised", 0.8, "correlated"),
    "full": Variant("randomised", 0.8),
    "quantum_noise": Variant("randomised", 0.8, "quantum"),
    "wide_scale": Variant("randomised", 0.8, scale=0.3),
    "local_norm": Variant("randomised", 0.8, input_norm="local"),
    # local_norm with procedural look-alikes (distractors.look_alikes) in half the training frames;
    # its test frames are local_norm's exactly, so the two compare on the same frames
    "look_alikes": Variant("randomised", 0.8, input_norm="local", look_alikes=0.5),
    # local_norm over a smaller / larger neighbourhood than its 31 px
    "local_norm_15": Variant("randomised", 0.8, input_norm="local", input_norm_window=15),
    "local_norm_63": Variant("randomised", 0.8, input_norm="local", input_norm_window=63),
    # local_norm with unlabelled wires up to 2.5x as wide in training (catheter widths), tested on local_norm's frames
    "wide_wires": Variant("randomised", 0.8, input_norm="local", wire_width=(1.0, 2.5)),
    # local_norm with the training scale jitter widened from +-15 % to +-30 % (wide_scale's jitter)
    "local_norm_wide_scale": Variant("randomised", 0.8, scale=0.3, input_norm="local"),
}


def engine_config(variant: str, overrides: dict):
    """SynthConfig of ``variant``'s engine with ``overrides`` on top (distractor tables are merged)."""
    variant = VARIANTS[variant].engine
    from cathx.data.synthetic import SynthConfig

    base = SynthConfig()
    values = dict(BASELINE_ENGINE) if variant == "baseline" else {}
    table = dict(base.distractor_probability)
    if variant == "baseline":
        table = dict.fromkeys(table, 0.0)
    overrides = dict(overrides)
    if overrides.pop("wire_families_off", False):
        table.update(dict.fromkeys(WIRE_DISTRACTORS, 0.0))
    table.update(overrides.pop("distractor_probability", {}))
    values.pop("distractor_probability", None)
    values.update(overrides)
    return dataclasses.replace(base, distractor_probability=table, **values)


def train_config(seed: int, steps: tuple[int, int], variant: Variant, threads: int):
    from cathx.config import read_yaml_mapping
    from cathx.training.config import train_config_from_dict

    path = ROOT / "configs" / "benchmark_cpu.yaml"
    mapping = read_yaml_mapping(path)
    mapping.pop("benchmark", None)  # the suite runner's section
    cfg = train_config_from_dict(mapping, where=str(path))
    pretrain, multitask = cfg.stages
    stages = (dataclasses.replace(pretrain, epochs=1000, max_steps=steps[0]),
              dataclasses.replace(multitask, epochs=1000, max_steps=steps[1]))
    return dataclasses.replace(
        cfg, seed=seed, name="generalisation", stages=stages,
        model={**cfg.model, "input_norm": variant.input_norm, "input_norm_window": variant.input_norm_window},
        data=dataclasses.replace(cfg.data, intensity=variant.intensity, noise=variant.noise, scale=variant.scale,
                                 limit_val=16),
        # the shipped model's choices: every sample, bfloat16 autocast (about 2x faster on these CPUs)
        prioritization=dataclasses.replace(cfg.prioritization, sample_selection="none"),
        trainer=dataclasses.replace(cfg.trainer, threads=threads, checkpoint_every_n_steps=0, max_minutes=0.0,
                                    precision="bf16-mixed"),
    )


def run_one(family: str, variant: str, seed: int, args, work: Path) -> dict:
    from cathx.data.synthetic import SyntheticReader, write_dataset
    from cathx.system import cpu_description
    from cathx.training.evaluate import evaluate
    from cathx.training.run import train

    train_engine, in_dist_engine, held_engine = engines(family, variant)
    folder = work / f"{family}-{variant}-s{seed}"
    data = folder / "data"
    started = time.time()
    if not (data / "dataset_card.json").is_file():
        write_dataset(data, n=args.train_frames, size=256, seed=10_000 + seed, config=train_engine, overwrite=True)
    cfg = train_config(seed, args.steps, VARIANTS[variant], args.threads)
    best = train(cfg, data=data, out=folder / "run", resume=(folder / "run").exists())
    trained = time.time()
    scores = {}
    for name, engine, test_seed in (("in_dist", in_dist_engine, 20_000 + seed), ("held_out", held_engine, 30_000 + seed)):
        reader = SyntheticReader(args.test_frames, size=256, seed=test_seed, config=engine)
        summary = evaluate(best, None, folder / f"eval_{name}", reader=reader, plots=False)
        scores[name] = {"mean_j": float(summary["mean_j"]), "ap50": float(summary["ap50"])}
    scores["common"] = score_common(family, seed, best, folder, args.test_frames)
    return {
        "family": family, "variant": variant, "seed": seed, "steps": list(args.steps),
        "train_frames": args.train_frames, "test_frames": args.test_frames, **scores,
        "ratio_mean_j": scores["held_out"]["mean_j"] / max(scores["in_dist"]["mean_j"], 1e-9),
        "ratio_ap50": scores["held_out"]["ap50"] / max(scores["in_dist"]["ap50"], 1e-9),
        "train_seconds": round(trained - started, 1), "eval_seconds": round(time.time() - trained, 1),
        "cpu": cpu_description(),
    }


def engines(family: str, variant: str):
    """(training engine, in-distribution test engine, held-out test engine) of ``family`` under
    ``variant``: the held-out test differs from the in-distribution one in the family's factors
    only; the oracle trains on it. A variant's look-alikes are added to its training engine only."""
    train_overrides, held_overrides = FAMILIES[family]
    held_engine = engine_config(variant, {**train_overrides, **held_overrides, "wire_families_off": False})
    if variant == "oracle":
        in_dist = held_engine
    elif variant == "full":
        in_dist = engine_config(variant, {})
    else:
        in_dist = engine_config(variant, train_overrides)
    extra = VARIANTS[variant].look_alikes
    train_engine = dataclasses.replace(in_dist, wire_width_scale=VARIANTS[variant].wire_width)
    if extra:
        table = {**in_dist.distractor_probability, "look_alikes": extra}
        train_engine = dataclasses.replace(train_engine, distractor_probability=table)
    return train_engine, in_dist, held_engine


def oracle_ratios(rows: list[dict]) -> dict[str, tuple[list[float], list[float]]]:
    """{family: (held-out J ratios, held-out AP50 ratios)} of ``randomised`` over ``oracle``, one per
    seed both variants ran (the two are tested on the same held-out frames of that seed)."""
    ratios = {}
    for family in FAMILIES:
        randomised = {r["seed"]: r["held_out"] for r in rows if r["family"] == family and r["variant"] == "randomised"}
        oracle = {r["seed"]: r["held_out"] for r in rows if r["family"] == family and r["variant"] == "oracle"}
        seeds = sorted(set(randomised) & set(oracle))
        if seeds:
            ratios[family] = ([randomised[s]["mean_j"] / max(oracle[s]["mean_j"], 1e-9) for s in seeds],
                              [randomised[s]["ap50"] / max(oracle[s]["ap50"], 1e-9) for s in seeds])
    return ratios


def score_common(family: str, seed: int, weights: Path, folder: Path, frames: int) -> dict:
    """Mean J and AP50 of ``weights`` on the family's held-out frames from the randomised engine."""
    from cathx.data.synthetic import SyntheticReader
    from cathx.training.evaluate import evaluate

    train_overrides, held_overrides = FAMILIES[family]
    engine = engine_config("randomised", {**train_overrides, **held_overrides, "wire_families_off": False})
    reader = SyntheticReader(frames, size=256, seed=30_000 + seed, config=engine)
    summary = evaluate(weights, None, folder / "eval_common", reader=reader, plots=False)
    return {"mean_j": float(summary["mean_j"]), "ap50": float(summary["ap50"])}


def score_weights(weights: list[str], families: list[str], frames: int, work: Path) -> dict:
    """Mean J and AP50 of each finished model in ``weights`` on today's default engine and, per family,
    on its held-out corner (``held_out``: FAMILIES' test values, inside the default ranges) and
    beyond the default ranges (``beyond``: BEYOND); the same frames for every model."""
    from cathx.data.synthetic import SyntheticReader
    from cathx.training.evaluate import evaluate

    sets = {"default": engine_config("randomised", {})}
    for family in families:
        train_overrides, held_overrides = FAMILIES[family]
        sets[f"{family}/held_out"] = engine_config(
            "randomised", {**train_overrides, **held_overrides, "wire_families_off": False})
        sets[f"{family}/beyond"] = engine_config("randomised", BEYOND[family])
    scores: dict[str, dict] = {}
    for number, name in enumerate(weights):
        scores[name] = {}
        for index, (set_name, engine) in enumerate(sets.items()):
            reader = SyntheticReader(frames, size=256, seed=60_000 + 1_000 * index, config=engine)
            summary = evaluate(name, None, work / "score_weights" / f"{number}-{Path(name).stem}" / set_name.replace("/", "-"),
                               reader=reader, plots=False)
            scores[name][set_name] = {"mean_j": float(summary["mean_j"]), "ap50": float(summary["ap50"])}
            print(f"{name} {set_name}: J {summary['mean_j']:.3f} AP50 {summary['ap50']:.3f}", flush=True)
    return scores


def model_label(path: str) -> str:
    """A column name for a weights file: its stem, or its folder's name for a run's best/last.pt."""
    stem = Path(path).stem
    return Path(path).parent.name if stem in ("best", "last") and Path(path).parent.name else stem


def weights_markdown(report: dict) -> str:
    names = list(report["scores"])
    sets = list(report["scores"][names[0]])
    lines = [
        "# Finished models on the generalisation families' conditions",
        "",
        f"CPU: {report['cpu']}. Command: `{report['command']}`. {report['test_frames']} frames per set at 256 px, "
        "the same frames for every model. `held_out`: the family's held-out test values of the training "
        "benchmark (inside today's default ranges or at their edge, so these models have seen them); "
        "`beyond`: values outside the default ranges, which no cathx training has seen. Ratio: the set's "
        "score over the same model's score on `default` frames. Models: " + ", ".join(f"`{n}`" for n in names) + ".",
        "",
        "| set | " + " | ".join(f"{model_label(n)} J | {model_label(n)} AP50" for n in names) + " |",
        "|---|" + "---|---|" * len(names),
    ]
    for set_name in sets:
        cells = []
        for n in names:
            score, base = report["scores"][n][set_name], report["scores"][n]["default"]
            if set_name == "default":
                cells += [f"{score['mean_j']:.3f}", f"{score['ap50']:.3f}"]
            else:
                cells += [f"{score['mean_j']:.3f} ({score['mean_j'] / max(base['mean_j'], 1e-9):.2f}x)",
                          f"{score['ap50']:.3f} ({score['ap50'] / max(base['ap50'], 1e-9):.2f}x)"]
        lines.append(f"| {set_name} | " + " | ".join(cells) + " |")
    lines += ["", "Beyond-range settings per family:", ""]
    lines += [f"- {name}: {values}" for name, values in BEYOND.items()]
    return "\n".join(lines) + "\n"


def markdown(report: dict) -> str:
    rows = report["runs"]
    lines = [
        "# Generalisation proxy: one family of factors held out in training",
        "",
        "CPU: " + "; ".join(f"{cpu} ({n} runs)" for cpu, n in Counter(r.get("cpu", report["cpu"]) for r in rows).items())
        + " (runs are fixed step counts, so the CPU changes their time, not their result; CPUs without "
        "bfloat16 train in float32). Commands: " + "; ".join(f"`{c}`" for c in report.get("commands", [report["command"]])),
        f"Recipe: configs/benchmark_cpu.yaml network, {report['steps'][0]} + {report['steps'][1]} optimizer steps "
        f"(segmentation pretraining + multi-task), {report['train_frames']} training frames, "
        f"{report['test_frames']} test frames per test set. Ratio = held-out / in-distribution (target >= 0.85).",
        "",
        "| family | variant | seeds | in-dist J | held-out J | ratio J | in-dist AP50 | held-out AP50 | ratio AP50 "
        "| common held-out J | common held-out AP50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    keys = sorted({(r["family"], r["variant"]) for r in rows}, key=lambda k: (list(FAMILIES).index(k[0]), list(VARIANTS).index(k[1])))
    for family, variant in keys:
        group = [r for r in rows if r["family"] == family and r["variant"] == variant]

        def stat(values: list[float]) -> str:
            return f"{np.mean(values):.3f}" + (f" +- {np.std(values):.3f}" if len(values) > 1 else "")

        lines.append(
            f"| {family} | {variant} | {len(group)} | {stat([r['in_dist']['mean_j'] for r in group])} | "
            f"{stat([r['held_out']['mean_j'] for r in group])} | **{stat([r['ratio_mean_j'] for r in group])}** | "
            f"{stat([r['in_dist']['ap50'] for r in group])} | {stat([r['held_out']['ap50'] for r in group])} | "
            f"**{stat([r['ratio_ap50'] for r in group])}** | "
            f"{stat([r['common']['mean_j'] for r in group if 'common' in r]) if any('common' in r for r in group) else '-'} | "
            f"{stat([r['common']['ap50'] for r in group if 'common' in r]) if any('common' in r for r in group) else '-'} |"
        )
    def stat(values: list[float]) -> str:
        return f"{np.mean(values):.3f}" + (f" +- {np.std(values):.3f}" if len(values) > 1 else "")

    oracle_lines = [f"| {family} | {len(j)} | {stat(j)} | {stat(ap)} |" for family, (j, ap) in oracle_ratios(rows).items()]
    if oracle_lines:
        lines += ["", "Held-out frames, `randomised` (never saw them) / `oracle` (trained on their conditions), same "
                  "frames and seeds: how much of the held-out score a model that did see the conditions would add.", "",
                  "| family | seeds | held-out J / oracle | held-out AP50 / oracle |", "|---|---|---|---|", *oracle_lines]
    lines += ["", "Held-out settings per family (training never sees them):", ""]
    lines += [f"- {name}: train {train}; test {held}" for name, (train, held) in FAMILIES.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--variants", default="baseline,randomised")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--train-frames", type=int, default=800)
    parser.add_argument("--test-frames", type=int, default=60)
    parser.add_argument("--steps", default="150,600", help="pretraining,multi-task optimizer steps")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "generalisation")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--score-weights", default="",
                        help="comma-separated finished models (shipped names or checkpoints): score them on "
                             "each family's conditions instead of training (BEYOND); writes generalisation_weights.*")
    args = parser.parse_args(argv)
    families = [f for f in args.families.split(",") if f]
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        print(f"error: unknown family {unknown[0]!r}; choose from {', '.join(FAMILIES)}", file=sys.stderr)
        return 2
    variants = [v for v in args.variants.split(",") if v]
    if set(variants) - set(VARIANTS):
        print(f"error: --variants: choose from {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    args.steps = tuple(int(x) for x in args.steps.split(","))
    seeds = [int(s) for s in args.seeds.split(",")]

    from cathx.fileio import atomic_write_json, atomic_write_text
    from cathx.system import cpu_description

    if args.score_weights:
        report = {"cpu": cpu_description(), "test_frames": args.test_frames,
                  "command": "python benchmarks/generalisation.py " + " ".join(argv or sys.argv[1:]),
                  "scores": score_weights([w for w in args.score_weights.split(",") if w], families,
                                          args.test_frames, args.work)}
        atomic_write_json(args.out / "generalisation_weights.json", report)
        atomic_write_text(args.out / "generalisation_weights.md", weights_markdown(report))
        return 0
    result_path = args.out / "generalisation.json"
    report = json.loads(result_path.read_text()) if result_path.is_file() else {"runs": []}
    for record in report["runs"]:  # rows from before rows recorded their CPU ran on the report's one
        record.setdefault("cpu", report.get("cpu", "unknown"))
    report.update({"cpu": cpu_description(), "steps": list(args.steps), "train_frames": args.train_frames,
                   "test_frames": args.test_frames,
                   "command": "python benchmarks/generalisation.py " + " ".join(argv or sys.argv[1:])})
    commands = report.setdefault("commands", [])
    if report["command"] not in commands:
        commands.append(report["command"])
    for record in report["runs"]:  # runs recorded before the common test set existed
        folder = args.work / f"{record['family']}-{record['variant']}-s{record['seed']}"
        if "common" not in record and (folder / "run" / "best.pt").is_file():
            record["common"] = score_common(record["family"], record["seed"], folder / "run" / "best.pt", folder,
                                            record["test_frames"])
            atomic_write_json(result_path, report)
    done = {(r["family"], r["variant"], r["seed"]) for r in report["runs"]}
    for seed in seeds:
        for family in families:
            for variant in variants:
                if (family, variant, seed) in done:
                    continue
                record = run_one(family, variant, seed, args, args.work)
                report["runs"].append(record)
                atomic_write_json(result_path, report)
                atomic_write_text(args.out / "generalisation.md", markdown(report))
                print(f"{family} {variant} seed {seed}: ratio J {record['ratio_mean_j']:.3f}, "
                      f"AP50 {record['ratio_ap50']:.3f}", flush=True)
    atomic_write_text(args.out / "generalisation.md", markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
