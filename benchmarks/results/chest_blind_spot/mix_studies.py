"""Mix two renderings of the same synthetic chest studies, study by study.

The chest engine draws the same scenes (tubes, tips, labels, annotations) for one seed whatever its
variety settings, so two folders written with seed 0 differ only in how each study looks. This
writes a RANZCR-style folder whose every study is taken from B with probability --fraction-b, else
from A (images hard-linked, the shared train.csv and train_annotations.csv copied). It refuses
folders whose labels differ.

    .venv/bin/python benchmarks/results/chest_blind_spot/mix_studies.py \
        --a runs/cathx_chest_v2/synthetic --b runs/cathx_chest_template/synthetic \
        --fraction-b 0.5 --out runs/chest_mix50
"""
from __future__ import annotations

import argparse
import csv
import filecmp
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

SHARED_FILES = ("train.csv", "train_annotations.csv")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", type=Path, required=True)
    parser.add_argument("--b", type=Path, required=True)
    parser.add_argument("--fraction-b", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if not 0.0 <= args.fraction_b <= 1.0:
        print(f"mix_studies: --fraction-b {args.fraction_b}: must be in [0, 1]", file=sys.stderr)
        return 2
    for name in SHARED_FILES:
        if not filecmp.cmp(args.a / name, args.b / name, shallow=False):
            print(f"mix_studies: {args.a / name} and {args.b / name} differ: not the same studies", file=sys.stderr)
            return 2
    if args.out.exists():
        print(f"mix_studies: {args.out} exists; choose a new folder", file=sys.stderr)
        return 2
    with open(args.a / "train.csv", newline="") as handle:
        uids = [row["StudyInstanceUID"] for row in csv.DictReader(handle)]
    take_b = np.random.default_rng(args.seed).random(len(uids)) < args.fraction_b
    # Built beside OUT and renamed when complete, so that an interrupted run leaves no half folder
    # under the name a training config reads.
    partial = args.out.with_name(args.out.name + ".partial")
    if partial.exists():
        print(f"mix_studies: {partial} exists (an interrupted run?); remove it or choose a new --out", file=sys.stderr)
        return 2
    (partial / "train").mkdir(parents=True)
    for uid, from_b in zip(uids, take_b):
        source = (args.b if from_b else args.a) / "train" / f"{uid}.jpg"
        os.link(source, partial / "train" / source.name)
    for name in SHARED_FILES:
        shutil.copyfile(args.a / name, partial / name)
    record = {"a": str(args.a), "b": str(args.b), "fraction_b": args.fraction_b, "seed": args.seed,
              "studies": len(uids), "from_b": int(take_b.sum())}
    (partial / "mix.json").write_text(json.dumps(record, indent=2) + "\n")
    partial.rename(args.out)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
