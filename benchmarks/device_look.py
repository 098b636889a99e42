"""A model's scores on the same test frames drawn with three device looks (issue 12).

The same 200 scenes (seeds from 777,000, the shipped model card's test split) rendered with

- ``nominal``: every catheter with its type's own look (the engine before the device-look variety),
- ``default``: today's engine, each catheter drawn as another manufacturer's model
  (``radius_scale``, ``shaft_opacity_scale``, ... in SynthConfig),
- ``devices_held_out``: the look the generalisation benchmark's ``devices`` family holds out
  (thinner catheters with fainter shafts, longer and denser rings, wider gaps).

Only the catheters differ between the three (the look is drawn last), so the differences are the
model's sensitivity to device look.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/device_look.py [--weights cathx-fluoro] [--frames 200]

Writes benchmarks/results/device_look.{json,md}.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

METRICS = ("mean_j", "ap", "ap50", "recall5")


def looks() -> dict:
    from generalisation import FAMILIES

    from cathx.data.synthetic import SynthConfig
    from cathx.data.synthetic.config import NOMINAL_LOOK

    return {"nominal": dataclasses.replace(SynthConfig(), **NOMINAL_LOOK),
            "default": SynthConfig(),
            "devices_held_out": dataclasses.replace(SynthConfig(), **FAMILIES["devices"][1])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="cathx-fluoro")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--seed", type=int, default=777_000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)

    from cathx.data.synthetic import SyntheticReader
    from cathx.fileio import atomic_write_json, atomic_write_text
    from cathx.system import cpu_description
    from cathx.training.evaluate import evaluate
    from cathx.zoo import resolve_weights

    weights = resolve_weights(args.weights)
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, config in looks().items():
            reader = SyntheticReader(args.frames, size=256, seed=args.seed, config=config)
            summary = evaluate(weights, None, Path(scratch) / name, reader=reader, plots=False)
            rows[name] = {k: round(float(summary[k]), 4) for k in METRICS}
            print(name, rows[name], flush=True)
    report = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpu": cpu_description(),
              "weights": str(args.weights), "frames": args.frames, "seed": args.seed, "looks": rows,
              "command": "python benchmarks/device_look.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    lines = [
        "# Device look: one model, the same scenes, three catheter looks",
        "",
        f"{report['created']}, {report['cpu']}. Command: `{report['command'].strip()}`. Weights `{args.weights}`, "
        f"{args.frames} frames at 256 px, seeds from {args.seed}.",
        "",
        "| look | mean J | AP@[.50:.95] | AP50 | electrode recall 5 px |",
        "|---|---:|---:|---:|---:|",
        *[f"| {name} | {r['mean_j']:.3f} | {r['ap']:.3f} | {r['ap50']:.3f} | {r['recall5']:.3f} |"
          for name, r in rows.items()],
        "",
        "nominal: each type's own look (the engine before the device-look variety); default: today's engine; "
        "devices_held_out: thinner catheters, fainter shafts, longer and denser rings, wider gaps "
        "(benchmarks/generalisation.py, family `devices`).",
    ]
    atomic_write_json(args.out / "device_look.json", report)
    atomic_write_text(args.out / "device_look.md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
