"""Does a chest line mask follow a line, or the routes lines take in its training studies?

Paste one straight bright line (3 px wide at 512 px, peak contrast 0.15 of the grey range, about the
median contrast of the engine's own lines) on chest-engine studies drawn without any line, at
several heights and orientations (``PROBES``, normalised coordinates, all on the image's left half),
and report the share of the pasted centreline that the line mask of ``cathx cls predict`` covers
within 6 px. A network that finds lines by their look covers most probes; one that has learnt where
lines run covers only probes on a route (a subclavian course at y 0.2, the SVC at x 0.4) and treats
the rest like the unlabelled ECG wires it was taught to ignore.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/chest_line_probe.py --weights cathx-chest OTHER=FILE
        [--studies 12] [--variety]

Prints a table; nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

SIZE = 512
SEED = 777
CONTRAST = 0.15
TOLERANCE = 6.0
PROBES = {f"across y={y:g}": ((0.08, y), (0.42, y)) for y in (0.12, 0.2, 0.3, 0.45, 0.6)}
PROBES.update({f"down x={x:g}": ((x, 0.1), (x, 0.55)) for x in (0.25, 0.4)})
PROBES["diagonal"] = ((0.08, 0.1), (0.42, 0.5))


def paste_line(image: np.ndarray, start: tuple[float, float], end: tuple[float, float],
               contrast: float = CONTRAST) -> tuple[np.ndarray, np.ndarray]:
    """(image with the line added, quantised to 8 bits; (H, W) bool one-pixel centreline) for a
    straight line from ``start`` to ``end`` in normalised (x, y) coordinates of (H, W) ``image``."""
    import cv2

    height, width = image.shape
    a, b = ((int(p[0] * width), int(p[1] * height)) for p in (start, end))
    stroke = np.zeros(image.shape, np.float32)
    cv2.line(stroke, a, b, 1.0, max(1, round(3 * width / 512)), cv2.LINE_AA)
    pasted = np.clip(image + contrast * cv2.GaussianBlur(stroke, (0, 0), 0.7 * width / 512), 0, 1)
    centreline = np.zeros(image.shape, np.uint8)
    cv2.line(centreline, a, b, 1, 1)
    return (np.round(pasted * 255) / 255).astype(np.float32), centreline.astype(bool)


def covered(mask: np.ndarray, centreline: np.ndarray, tolerance: float) -> float:
    """Share of ``centreline`` pixels within ``tolerance`` px of a ``mask`` pixel (0 for an empty mask)."""
    import cv2

    if not mask.any():
        return 0.0
    distance = cv2.distanceTransform(np.where(mask, 0, 255).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return float((distance[centreline] <= tolerance).mean())


def probe(chest, studies: int, variety: bool) -> dict[str, float]:
    """Mean covered share per probe over ``studies`` line-free engine studies at 512 px."""
    from cathx.data.chest.synthetic import VARIETY_OFF, ChestSynthConfig, generate_study

    no_lines = {"ett_prob": 0.0, "ngt_prob": 0.0, "cvc_prob": 0.0, "swan_prob": 0.0}
    config = ChestSynthConfig(**no_lines) if variety else ChestSynthConfig(**{**VARIETY_OFF, **no_lines})
    shares: dict[str, list[float]] = {name: [] for name in PROBES}
    for index in range(studies):
        base = generate_study(SEED, index, size=SIZE, config=config).image
        for name, (start, end) in PROBES.items():
            image, centreline = paste_line(base, start, end)
            shares[name].append(covered(chest.predict_grey(image, name).mask > 0, centreline, TOLERANCE))
    return {name: float(np.mean(values)) for name, values in shares.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", nargs="*", default=["cathx-chest"],
                        help="shipped names or files; LABEL=FILE names a column")
    parser.add_argument("--studies", type=int, default=12)
    parser.add_argument("--variety", action="store_true", help="studies with the engine's variety (default: its template)")
    args = parser.parse_args(argv)
    if args.studies < 1:
        print(f"error: --studies: at least 1, got {args.studies}", file=sys.stderr)
        return 2
    from cathx.errors import CathxError
    from cathx.inference.chest_model import load_chest
    from transfer import parse_labelled

    columns = {}
    for entry in args.weights:
        name, path = parse_labelled(entry)
        try:
            chest = load_chest(path)
        except CathxError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        columns[name] = probe(chest, args.studies, args.variety)
    print(f"share of a pasted line covered by the mask, {args.studies} {'variety' if args.variety else 'template'} "
          f"studies at {SIZE} px")
    print("| probe | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name in PROBES:
        print(f"| {name} | " + " | ".join(f"{column[name]:.2f}" for column in columns.values()) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
