"""write_dataset: the XRayCath layout, annotations.json, dataset card, determinism, nothing
half-written on failure."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from cathx.data.formats import xraycath_layout as layout
from cathx.data.synthetic import SynthConfig, write_dataset
from cathx.data.synthetic import writer as writer_module
from cathx.errors import CathxError
from cathx.structures import CATHETER_TYPES


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_annotations_and_card(tmp_path):
    out = write_dataset(tmp_path / "ds", 12, size=64, seed=3, sequences=2, frames=3, workers=1)
    for name in (
        layout.IMAGES_DIR,
        layout.MASKS_DIR,
        layout.CSV_PATH,
        layout.ANNOTATIONS_FILE,
        "dataset_card.json",
        "dataset_card.md",
    ):
        assert (out / name).exists(), name
    assert len(list((out / layout.IMAGES_DIR).glob("*.png"))) == 12
    listed = [
        line for s in layout.SPLITS for line in (out / layout.IMAGESETS_DIR / f"{s}.txt").read_text().split()
    ]
    assert sorted(listed) == [f"{i:06d}" for i in range(12)]
    data = json.loads((out / layout.ANNOTATIONS_FILE).read_text())
    assert [c["name"] for c in data["categories"]] == list(CATHETER_TYPES)
    assert len(data["images"]) == 12
    # Sequences are never split across train/val/test.
    by_sequence: dict[int, set[str]] = {}
    for record in data["images"]:
        if record["sequence_id"] is not None:
            by_sequence.setdefault(record["sequence_id"], set()).add(record["split"])
    assert sorted(by_sequence) == [0, 1] and all(len(s) == 1 for s in by_sequence.values())
    # blob.csv rows match the annotations' keypoints.
    rows = (out / layout.CSV_PATH).read_text().strip().splitlines()
    assert rows[0] == ",".join(layout.CSV_COLUMNS)
    keypoints = sum(a["num_keypoints"] for a in data["annotations"])
    assert len(rows) - 1 == keypoints
    card = json.loads((out / "dataset_card.json").read_text())
    assert card["counts"]["images"] == 12 and card["counts"]["electrodes_total"] == keypoints
    assert sum(card["counts"]["splits"].values()) == 12
    # Masks on disk are the union of the catheters' RLE masks.
    from pycocotools import mask as mask_utils

    first = data["images"][0]
    union = np.zeros((64, 64), np.uint8)
    for annotation in data["annotations"]:
        if annotation["image_id"] == first["id"]:
            rle = dict(annotation["segmentation"], counts=annotation["segmentation"]["counts"].encode())
            union |= mask_utils.decode(rle)
    disk = cv2.imread(str(out / first["mask_file"]), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(disk > 127, union > 0)


def test_same_seed_gives_identical_files_serial_or_parallel(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_module, "MIN_FRAMES_FOR_WORKERS", 0)
    a = write_dataset(tmp_path / "a", 6, size=64, seed=5, sequences=1, frames=2, workers=1)
    b = write_dataset(tmp_path / "b", 6, size=64, seed=5, sequences=1, frames=2, workers=2)
    c = write_dataset(tmp_path / "c", 6, size=64, seed=6, sequences=1, frames=2, workers=1)
    assert _files(a) == _files(b)
    assert _files(a) != _files(c)


def test_sixteen_bit_output(tmp_path):
    out = write_dataset(tmp_path / "ds", 2, size=64, seed=0, workers=1, bit_depth=16)
    image = cv2.imread(str(out / layout.IMAGES_DIR / "000000.png"), cv2.IMREAD_UNCHANGED)
    assert image.dtype == np.uint16 and image.max() > 255


def test_reader_round_trip(tmp_path):
    from cathx.data.formats import open_dataset
    from cathx.data.synthetic import SyntheticReader

    out = write_dataset(tmp_path / "ds", 3, size=64, seed=2, workers=1)
    reader = open_dataset(out)
    assert len(reader) == 3 and not reader.problems
    original = SyntheticReader(3, size=64, seed=2)
    for i in range(3):
        read, made = reader[i], original[i]
        assert read.catheter_types == made.catheter_types
        np.testing.assert_allclose(read.electrodes, made.electrodes, atol=1e-3)
        np.testing.assert_array_equal(read.mask, made.mask)
        assert np.abs(read.image - made.image).max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "--n must be a positive number of frames, got 0"),
        ({"n": -3}, "--n must be a positive number of frames, got -3"),
        ({"size": 32}, "--size must be at least 64 pixels, got 32"),
        ({"seed": -1}, "--seed must be 0 or more, got -1"),
        ({"sequences": 2, "frames": 5}, "--sequences 2 x --frames 5 = 10 frames is more than --n 4"),
        ({"bit_depth": 12}, "--bit-depth must be 8 or 16, got 12"),
        ({"fps": 0.0}, "--fps must be positive, got 0.0"),
    ],
)
def test_bad_arguments_write_nothing(tmp_path, kwargs, message):
    args = {"n": 4, "size": 64, "workers": 1} | kwargs
    with pytest.raises(CathxError, match=message.replace("+", r"\+")):
        write_dataset(tmp_path / "ds", **args)
    assert list(tmp_path.iterdir()) == []


def test_non_empty_out_needs_overwrite_and_only_replaces_a_dataset(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(CathxError, match="folder is not empty; choose another OUT or pass --overwrite"):
        write_dataset(foreign, 2, size=64, workers=1)
    with pytest.raises(CathxError, match="not a cathx synthetic dataset"):
        write_dataset(foreign, 2, size=64, workers=1, overwrite=True)
    assert (foreign / "keep.txt").read_text() == "mine"
    out = write_dataset(tmp_path / "ds", 2, size=64, seed=0, workers=1)
    write_dataset(out, 3, size=64, seed=1, workers=1, overwrite=True)
    assert len(list((out / layout.IMAGES_DIR).glob("*.png"))) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "foreign"]


def test_unwritable_out_is_one_line_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(CathxError, match="cannot write here"):
        write_dataset(blocker / "ds", 2, size=64, workers=1)
    with pytest.raises(CathxError, match="exists and is not a folder"):
        write_dataset(blocker, 2, size=64, workers=1)


def test_failure_midway_leaves_nothing_behind(tmp_path, monkeypatch):
    calls = {"n": 0}
    original = writer_module._render_unit

    def failing(job):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(job)

    monkeypatch.setattr(writer_module, "_render_unit", failing)
    with pytest.raises(KeyboardInterrupt):
        write_dataset(tmp_path / "ds", 5, size=64, workers=1)
    assert list(tmp_path.iterdir()) == []


def test_worker_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    from dataclasses import replace

    monkeypatch.setattr(writer_module, "MIN_FRAMES_FOR_WORKERS", 0)
    # A config that only fails inside the worker processes: set past SynthConfig's checks, which
    # refuse it (a pickled copy is not checked again).
    broken = replace(SynthConfig())
    object.__setattr__(broken, "pixel_spacing_mm", ("wide", "narrow"))
    with pytest.raises(ValueError, match="could not convert string to float"):
        write_dataset(tmp_path / "ds", 6, size=64, workers=2, config=broken)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_workers_survive_a_parent_that_used_torch_and_opencv_threads(tmp_path):
    """Forked workers deadlocked after the parent had used torch and cv2 thread pools."""
    import subprocess
    import sys

    script = (
        "import sys, numpy as np, cv2, torch\n"
        "x = torch.randn(256, 256); (x @ x).sum()\n"
        "cv2.GaussianBlur(np.random.rand(1500, 1500).astype(np.float32), (0, 0), 5)\n"
        "from cathx.data.synthetic import write_dataset\n"
        "write_dataset(sys.argv[1], 24, size=64, workers=2)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "ds")],
        timeout=120,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(list((tmp_path / "ds" / layout.IMAGES_DIR).glob("*.png"))) == 24
