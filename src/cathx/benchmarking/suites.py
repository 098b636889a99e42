"""Benchmark suites: named lists of experiment variants, each a set of config overrides.

A variant's ``overrides`` maps dotted keys of the training config (cathx.training.config.TrainConfig
as a plain dict) to values, e.g. ``{"model.name": "unet", "prioritization.task_weighting": "dtp"}``.
``stages.*.tasks`` sets a key in every training stage. The suites mirror the paper's tables:

- methods (Table 1): CathMTL against the smp baselines, all trained multi-task the same way;
- backbones (Table 2): CathMTL with each encoder MODEL offers of the paper's list;
- mtl (Table 3): single-task detection / segmentation against multi-task strategies;
- convergence (Table 4): time to converge of DTP and the sample-assignment variants;
- task-weights (Table 5): constant task weights and GradNorm against the KPI weights;
- kpi (Table 6): the KPI pairs that define difficulty;
- sample-selection (Table 7): sample sort and selection strategies;
- smoke: two tiny variants for the tests; all: every suite above, duplicates removed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cathx.errors import ConfigError

# The paper's method: KPI task weights (Eq. 6) with Top-K hard sample assignment, MAE / IoU KPIs.
PAPER_STRATEGY: dict[str, Any] = {
    "prioritization.task_weighting": "dtp-kpi",
    "prioritization.sample_selection": "topk-hard",
    "prioritization.detection_kpi": "mae",
    "prioritization.segmentation_kpi": "iou",
}
# Table 1's baselines with ResNet34 (the paper's FCN/DeepLabV3 rows use it too), then the seed.
METHOD_BASELINES = (
    "unet",
    "unetplusplus",
    "fpn",
    "deeplabv3",
    "deeplabv3plus",
    "manet",
    "linknet",
    "pan",
    "upernet",
    "segformer",
)
# Table 2 in the paper's names; MODEL's encoder registry decides which exist here (vgg16 -> vgg16_bn).
PAPER_BACKBONES = ("vgg16_bn", "resnet18", "resnet34", "hrnet_w18", "hrnet_w32")


@dataclass(frozen=True)
class Variant:
    """One row of a results table: ``name`` (unique in a suite), the paper row it mirrors, overrides."""

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    paper_row: str = ""
    suite: str = ""

    def key(self) -> tuple:
        """Identity of the experiment (two suites may share a variant; it runs once)."""
        return tuple(sorted((k, repr(v)) for k, v in self.overrides.items()))


def _v(suite: str, name: str, paper_row: str = "", **overrides: Any) -> Variant:
    return Variant(name=name, overrides=dict(overrides), paper_row=paper_row or name, suite=suite)


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    merged = dict(base)
    merged.update({k.replace("__", "."): v for k, v in changes.items()})
    return merged


def _baseline(name: str, encoder: str) -> dict[str, Any]:
    """Overrides that swap CathMTL for an smp baseline. smp decoders end at stride 4, so a base
    config with a finer CathMTL output stride is brought back to 4 for them, and CathMTL's own
    options (input normalisation, catheter-type head) are turned off: a baseline refuses them."""
    return {"model.name": name, "model.encoder": encoder, "model.output_stride": 4, "model.input_norm": "none",
            "model.type_head": False}


def ours(suite: str, name: str = "cathmtl (ours)") -> Variant:
    return Variant(name, dict(PAPER_STRATEGY), "Ours", suite)


def methods() -> list[Variant]:
    variants = [ours("methods", "cathmtl")]
    for baseline in METHOD_BASELINES:
        overrides = _with(PAPER_STRATEGY, **_baseline(baseline, "resnet34"))
        variants.append(Variant(f"{baseline}-resnet34", overrides, baseline, "methods"))
    seed = _with(PAPER_STRATEGY, **_baseline("seed_unet_effb2", "efficientnet-b2"), **{"loss.segmentation": "dice"})
    variants.append(Variant("seed_unet_effb2", seed, "(seed) U-Net efficientnet-b2", "methods"))
    for baseline in ("unet", "fpn", "deeplabv3plus"):
        overrides = _with(PAPER_STRATEGY, **_baseline(baseline, "efficientnet-b2"))
        variants.append(Variant(f"{baseline}-efficientnet-b2", overrides, baseline, "methods"))
    return variants


def available_backbones() -> tuple[str, ...]:
    """The paper's backbones that cathx.models offers."""
    from cathx.models import ENCODERS

    return tuple(name for name in PAPER_BACKBONES if name in ENCODERS)


def backbones() -> list[Variant]:
    return [
        Variant(f"cathmtl-{enc}", _with(PAPER_STRATEGY, **{"model.encoder": enc}), enc, "backbones")
        for enc in available_backbones()
    ]


def _single_task(task: str) -> dict[str, Any]:
    return {
        "model.tasks": [task],
        "stages.*.tasks": task,
        "prioritization.task_weighting": "constant",
        "prioritization.sample_selection": "none",
    }


def mtl() -> list[Variant]:
    s = "mtl"
    return [
        Variant("single-task detection", _single_task("detection"), "Single Task Learning / Detection", s),
        Variant("single-task segmentation", _single_task("segmentation"), "Single Task Learning / Segmentation", s),
        Variant(
            "self-paced",
            {"prioritization.task_weighting": "self-paced", "prioritization.sample_selection": "none"},
            "Self-Paced [54]",
            s,
        ),
        Variant(
            "dtp", {"prioritization.task_weighting": "dtp", "prioritization.sample_selection": "none"}, "DTP [26]", s
        ),
        # not a row of the paper's table: the recipe configs/demo.yaml trains with since 2026-12-06
        # (benchmarks/results/demo_task_weighting), beside the strategies it was chosen over
        Variant(
            "constant",
            {"prioritization.task_weighting": "constant", "prioritization.sample_selection": "none"},
            "(cathx's CPU recipe) task weights 1 and 1, every sample",
            s,
        ),
        ours(s),
        Variant(
            "seed_unet_effb2 (seed setup)",
            {
                **_baseline("seed_unet_effb2", "efficientnet-b2"),
                "loss.segmentation": "dice",
                **_single_task("segmentation"),
            },
            "(seed) U-Net efficientnet-b2, segmentation only",
            s,
        ),
    ]


def convergence() -> list[Variant]:
    s = "convergence"
    rows = [("dtp", "dtp", "none", "DTP [26]")]
    rows += [
        (f"ours {sel}", "dtp-kpi", sel, label)
        for sel, label in (
            ("soft", "w/. Soft Assignment"),
            ("hard", "w/. Hard Assignment"),
            ("topk-soft", "w/. TopK Soft Assignment"),
            ("topk-hard", "w/. TopK Hard Assignment"),
        )
    ]
    return [
        Variant(
            name,
            {**PAPER_STRATEGY, "prioritization.task_weighting": tw, "prioritization.sample_selection": sel},
            label,
            s,
        )
        for name, tw, sel, label in rows
    ]


def task_weights() -> list[Variant]:
    s = "task-weights"
    variants = []
    for det, seg in ((1, 1), (2, 1), (5, 1), (10, 1), (1, 2), (1, 5), (1, 10)):
        overrides = _with(
            PAPER_STRATEGY,
            **{
                "prioritization.task_weighting": "constant",
                "prioritization.constant_weights": {"detection": float(det), "segmentation": float(seg)},
            },
        )
        variants.append(Variant(f"constant d={det} s={seg}", overrides, f"kd={det}, ks={seg}", s))
    variants.append(
        Variant("gradnorm", _with(PAPER_STRATEGY, **{"prioritization.task_weighting": "gradnorm"}), "GradNorm [55]", s)
    )
    variants.append(ours(s))
    return variants


def kpi() -> list[Variant]:
    s = "kpi"
    pairs = (("mae", "iou"), ("mae", "dice"), ("rmse", "iou"), ("rmse", "dice"), ("focal", "ce"))
    return [
        Variant(
            f"{det}/{seg}",
            _with(PAPER_STRATEGY, **{"prioritization.detection_kpi": det, "prioritization.segmentation_kpi": seg}),
            f"{det.upper()} / {seg.upper()}",
            s,
        )
        for det, seg in pairs
    ]


def sample_selection() -> list[Variant]:
    s = "sample-selection"
    rows = (
        ("none", "(all samples: the reference the paper's table leaves out)"),
        ("soft", "Soft Assignment"),
        ("hard", "Hard Assignment"),
        ("fixed-30", "30% Hard Samples"),
        ("fixed-50", "50% Hard Samples"),
        ("fixed-70", "70% Hard Samples"),
        ("topk-soft", "TopK Soft Assignment"),
        ("topk-hard", "TopK Hard Assignment"),
    )
    return [
        Variant(sel, _with(PAPER_STRATEGY, **{"prioritization.sample_selection": sel}), label, s) for sel, label in rows
    ]


def smoke() -> list[Variant]:
    """Two cheap variants: the paper's strategy on CathMTL and on an smp baseline."""
    s = "smoke"
    return [
        ours(s, "cathmtl"),
        Variant("fpn-resnet34", _with(PAPER_STRATEGY, **_baseline("fpn", "resnet34")), "FPN", s),
    ]


SUITES: dict[str, Callable[[], list[Variant]]] = {
    "methods": methods,
    "backbones": backbones,
    "mtl": mtl,
    "task-weights": task_weights,
    "kpi": kpi,
    "sample-selection": sample_selection,
    "convergence": convergence,
    "smoke": smoke,
}
ALL_SUITES = ("methods", "backbones", "mtl", "task-weights", "kpi", "sample-selection", "convergence")


def suite_names() -> tuple[str, ...]:
    return (*SUITES, "all")


def build_suite(name: str) -> list[Variant]:
    """The variants of suite ``name``; "all" runs each distinct experiment of every suite once."""
    if name == "all":
        # one run per experiment: the same overrides, or the same name (the convergence suite's
        # DTP spells out the default KPI kinds that the mtl suite's DTP leaves implicit)
        seen: dict[tuple, Variant] = {}
        names: set[str] = set()
        for suite in ALL_SUITES:
            for variant in SUITES[suite]():
                if variant.key() not in seen and variant.name not in names:
                    seen[variant.key()] = variant
                    names.add(variant.name)
        return list(seen.values())
    try:
        factory = SUITES[name]
    except KeyError:
        raise ConfigError(f"unknown suite {name!r}; choose from {', '.join(suite_names())}") from None
    return factory()


def select_variants(variants: list[Variant], names: Sequence[str]) -> list[Variant]:
    """The variants called ``names`` (in suite order); ConfigError naming the valid ones on a miss."""
    known = [v.name for v in variants]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"unknown variant {unknown[0]!r} in this suite; choose from {', '.join(known)}")
    return [v for v in variants if v.name in set(names)]


def apply_overrides(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return a deep copy of plain-dict ``config`` with dotted-key ``overrides`` set.

    ``a.b`` sets config["a"]["b"] (creating mappings on the way); ``stages.*.tasks`` sets "tasks"
    in every item of the list config["stages"].
    """
    import copy

    result = copy.deepcopy(config)
    for dotted, value in overrides.items():
        _set(result, dotted.split("."), copy.deepcopy(value), dotted)
    return result


def _set(node: Any, parts: list[str], value: Any, dotted: str) -> None:
    head, rest = parts[0], parts[1:]
    if head == "*":
        if not isinstance(node, list) or not rest:
            raise ConfigError(f"override {dotted!r}: '*' must stand for the items of a list, followed by a key")
        for item in node:
            _set(item, rest, value, dotted)
        return
    if not isinstance(node, dict):
        raise ConfigError(f"override {dotted!r}: {head!r} is not inside a mapping")
    if not rest:
        node[head] = value
        return
    child = node.setdefault(head, {} if rest[0] != "*" else [])
    if isinstance(child, tuple):
        child = node[head] = [dict(item) if isinstance(item, dict) else item for item in child]
    _set(child, rest, value, dotted)
