"""Batch prediction on Ray Data: input lists (folder tree, manifest, glob), per-input outputs as local
predict writes them, a Parquet summary, failed inputs listed, and a rerun that skips finished ones."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from cathx.errors import CathxError
from cathx.inference.batch import ITEMS, list_inputs, run_batch_predict
from cathx.inference.run import run_predict


def _images(folder: Path, count: int, start: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(start)
    paths = []
    for i in range(start, start + count):
        paths.append(folder / f"f{i}.png")
        cv2.imwrite(str(paths[-1]), (rng.random((64, 64)) * 255).astype(np.uint8))
    return paths


def _dicom(path: Path, frames: int = 3) -> None:
    """A small multi-frame XA DICOM (a sequence: overlay.mp4 and a motion curve)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.12.1"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.Modality, ds.Rows, ds.Columns, ds.NumberOfFrames, ds.FrameTime = "XA", 64, 64, frames, 100.0
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = (np.random.default_rng(1).random((frames, 64, 64)) * 4095).astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def _tree(root: Path) -> Path:
    _images(root, 3)
    _images(root / "sub", 2, start=3)
    (root / "sub" / "broken.png").write_bytes(b"not a png at all")
    (root / ".hidden").mkdir()
    _images(root / ".hidden", 1, start=9)
    (root / "notes.txt").write_text("not an input")
    return root


def test_a_folder_tree_lists_every_image_below_it(tmp_path):
    inputs, problems = list_inputs(_tree(tmp_path / "src"))
    assert [name for _, name in inputs] == ["f0.png", "f1.png", "f2.png", "sub__broken.png", "sub__f3.png",
                                            "sub__f4.png"] and problems == []


def test_a_cathx_output_folder_inside_the_tree_is_not_listed(tmp_path):
    """`cathx predict SRC --engine ray -o SRC/preds` run again (the documented resume) listed the
    first run's masks and overlays as new inputs."""
    from cathx.fileio import claim_output_folder

    source = _tree(tmp_path / "src")
    preds = claim_output_folder(source / "preds")
    (preds / "items" / "f0.png" / "masks").mkdir(parents=True)
    cv2.imwrite(str(preds / "items" / "f0.png" / "masks" / "f0.png"), np.zeros((8, 8), np.uint8))
    inputs, problems = list_inputs(source)
    assert [name for _, name in inputs] == ["f0.png", "f1.png", "f2.png", "sub__broken.png", "sub__f3.png",
                                            "sub__f4.png"]
    assert problems == []  # said in the log, not counted as a failed input


def test_a_manifest_lists_its_rows_and_the_missing_files(tmp_path):
    _tree(tmp_path / "src")
    manifest = tmp_path / "list.csv"
    manifest.write_text("path,note\nsrc/f0.png,a\nsrc/sub/f3.png,b\nsrc/gone.png,c\n")
    inputs, problems = list_inputs(manifest)
    assert [name for _, name in inputs] == ["src__f0.png", "src__sub__f3.png"]
    assert len(problems) == 1 and problems[0].endswith("src/gone.png: no such file") and ":4:" in problems[0]
    manifest.write_text("path\nnothing.png\n")
    with pytest.raises(CathxError, match=r"list.csv: the manifest names no existing file \(1 missing\)"):
        list_inputs(manifest)


def test_inputs_named_alike_get_distinct_names_and_a_file_listed_twice_is_predicted_once(tmp_path):
    source = _tree(tmp_path / "src")
    cv2.imwrite(str(source / "sub__f3.png"), np.zeros((8, 8), np.uint8))  # sub/f3.png's name as a file
    inputs, _ = list_inputs(source)
    names = [name for _, name in inputs]
    assert len(set(names)) == len(names) and {"sub__f3.png", "sub__f3.png_2"} <= set(names)
    manifest = tmp_path / "list.csv"
    manifest.write_text("path\nsrc/f0.png\nsrc/f0.png\n")
    assert [name for _, name in list_inputs(manifest)[0]] == ["src__f0.png"]


def test_a_glob_lists_what_it_matches(tmp_path):
    _tree(tmp_path / "src")
    inputs, _ = list_inputs(f"{tmp_path}/src/**/f[34].png")
    assert [name for _, name in inputs] == ["sub__f3.png", "sub__f4.png"]
    with pytest.raises(CathxError, match=r"\*.dcm: the pattern matches no file"):
        list_inputs(f"{tmp_path}/src/*.dcm")


@pytest.mark.slow
def test_ray_predicts_each_input_as_local_predict_lists_failures_and_resumes(tmp_path, tiny_checkpoint, local_ray):
    if not local_ray:  # ran in a child pytest (tests/conftest.py)
        return
    import pyarrow.parquet as pq

    source, out = _tree(tmp_path / "src"), tmp_path / "out"
    _dicom(source / "sub" / "run")  # no suffix: found by its DICM preamble
    summary = run_batch_predict(source, tiny_checkpoint, out, workers=2, batch_size=2, precision="fp32")
    assert (summary["inputs"], summary["predicted"], summary["failed"], summary["frames"]) == (7, 6, 1, 8)
    assert summary["precision"] == "fp32"
    failed = list(csv.DictReader((out / "failed.csv").open()))
    assert [row["source"] for row in failed] == [str(source / "sub" / "broken.png")]
    assert "not a readable image" in failed[0]["error"]
    table = pq.read_table(out / "summary.parquet").to_pylist()
    assert sorted(row["name"] for row in table if row["source"].endswith(".png")) == ["f0", "f1", "f2", "f3", "f4"]
    assert sorted(row["frame"] for row in table if row["source"].endswith("run")) == [0, 1, 2]
    assert (out / ITEMS / "sub__run" / "overlay.mp4").stat().st_size > 0
    assert all(row["seconds"] > 0 and row["catheters"] >= 0 and row["electrodes"] >= 0 for row in table)
    # Start-up (Ray, actors, model loads) is outside the predicting span and inside the whole run.
    assert 0 < summary["seconds_to_first_input"] < summary["seconds"]
    assert summary["fps_predicting"] > summary["fps"] > 0

    local = tmp_path / "local"
    run_predict(source / "sub" / "f3.png", tiny_checkpoint, local, precision="fp32")
    item = out / ITEMS / "sub__f3.png"
    for name in ("masks/f3.png", "overlays/f3.png", "electrodes.csv"):
        assert (item / name).read_bytes() == (local / name).read_bytes(), name
    ours, theirs = (json.loads((folder / "json" / "f3.json").read_text()) for folder in (item, local))
    for record in (ours, theirs):
        del record["meta"]["timings_ms"]  # the rest must match exactly
    assert ours == theirs

    finished = {p: p.stat().st_mtime_ns for p in (out / ITEMS).glob("*/frames.parquet")}
    again = run_batch_predict(source, tiny_checkpoint, out, workers=2, batch_size=2)
    assert (again["skipped"], again["predicted"], again["failed"], again["frames_total"]) == (6, 0, 1, 8)
    assert {p: p.stat().st_mtime_ns for p in (out / ITEMS).glob("*/frames.parquet")} == finished


@pytest.mark.slow
def test_nothing_predictable_is_one_line(tmp_path, tiny_checkpoint, local_ray):
    if not local_ray:  # ran in a child pytest (tests/conftest.py)
        return
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "broken.png").write_bytes(b"garbage")
    with pytest.raises(CathxError, match=r"no input could be predicted \(1 failed, e\.g\. .*broken.png: not a "
                                         r"readable image") as error:
        run_batch_predict(folder, tiny_checkpoint, tmp_path / "out", workers=1)
    assert "\n" not in str(error.value)


@pytest.mark.slow
def test_a_rerun_after_killing_the_driver_redoes_only_unfinished_inputs(tmp_path, tiny_checkpoint,
                                                                        run_cli, local_ray):
    """SIGKILL the `cathx predict --engine ray` process group (the real entry point, its own local Ray)
    once a few inputs are complete; the rerun (in the Ray child's process: same command, its running
    Ray) keeps every complete input (frames.parquet untouched) and finishes the rest."""
    if not local_ray:  # ran in a child pytest (tests/conftest.py)
        return
    import os
    import signal
    import subprocess
    import sys
    import time

    source, out = tmp_path / "src", tmp_path / "out"
    total = 80  # enough that the batches in flight when the driver dies (they still finish) are not all of them
    _images(source, total)
    command = [sys.executable, "-m", "cathx", "predict", str(source), "--engine", "ray", "--workers", "2",
               "-w", str(tiny_checkpoint), "-o", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1", RAY_ADDRESS="")
    driver = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    deadline = time.monotonic() + 120
    try:
        while len(list(out.glob(f"{ITEMS}/*/frames.parquet"))) < 4 and time.monotonic() < deadline:
            assert driver.poll() is None, "the run ended before it could be killed"
            time.sleep(0.2)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    # Ray's workers outlive the killed driver by the batch they are running: wait until they stop
    count, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < 3 and time.monotonic() < deadline + 60:
        now = len(list(out.glob(f"{ITEMS}/*/frames.parquet")))
        count, stable_since = now, stable_since if now == count else time.monotonic()
        time.sleep(0.5)
    kept = {p: p.stat().st_mtime_ns for p in out.glob(f"{ITEMS}/*/frames.parquet")}
    assert 4 <= len(kept) < total
    result = run_cli(*command[3:])
    assert result.exit_code == 0, result.stderr[-2000:]
    assert f"{total - len(kept)} inputs predicted, {len(kept)} already done, 0 failed" in result.stdout
    assert {p: p.stat().st_mtime_ns for p in kept} == kept
    assert len(list(out.glob(f"{ITEMS}/*/frames.parquet"))) == total
