"""XRayCath writer: any reader's samples -> layout + annotations.json, read back by the reader."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from cathx.data.formats import open_dataset
from cathx.data.formats.xraycath_writer import write_samples
from cathx.errors import CathxError
from cathx.structures import Sample


def _sample(seed):
    rng = np.random.default_rng(seed)
    image = rng.random((48, 64)).astype(np.float32)
    mask = np.zeros((48, 64), np.uint8)
    mask[10, 5:60] = 1  # catheter 0 runs along row 10
    mask[20:45, 30] = 1  # catheter 1 runs down column 30
    return Sample(
        image=image,
        mask=mask,
        electrodes=np.array([[10, 10], [20, 10], [30, 40]], np.float32),
        electrode_sizes=np.array([[2, 2], [3, 3], [4, 4]], np.float32),
        electrode_catheter_ids=np.array([0, 0, 1], np.int64),
        catheter_types=["cs_decapolar", "ablation"],
        centrelines=[np.array([[5, 10], [59, 10]], np.float32), np.array([[30, 20], [30, 44]], np.float32)],
        meta={"catheter_ids": [4, 7], "sequence_id": "run-a", "frame_index": seed, "fps": 7.5},
    )


def test_full_labels_round_trip_with_per_catheter_masks(tmp_path):
    out = tmp_path / "out"
    report = write_samples(
        [(_sample(0), "train"), (_sample(1), "val"), (None, "x.png: broken (skipped)")], out
    )
    assert report.written == 2 and report.problems == ["x.png: broken (skipped)"]
    assert report.splits == {"train": 1, "val": 1}
    back = open_dataset(out)[0]
    back.validate()
    original = _sample(0)
    np.testing.assert_allclose(back.image, original.image, atol=0.5 / 255 + 1e-6)
    np.testing.assert_array_equal(back.mask, original.mask)
    assert back.catheter_types == ["cs_decapolar", "ablation"] and back.meta["catheter_ids"] == [4, 7]
    np.testing.assert_allclose(back.electrodes, original.electrodes)
    np.testing.assert_allclose(back.electrode_sizes, original.electrode_sizes)
    assert back.electrode_catheter_ids.tolist() == [0, 0, 1]
    np.testing.assert_allclose(back.centrelines[1], original.centrelines[1])
    assert back.meta["fps"] == 7.5 and back.meta["sequence_id"] == 0 and back.meta["split"] == "train"
    document = json.loads((out / "annotations.json").read_text())
    first = [a for a in document["annotations"] if a["image_id"] == 0]
    pieces = [
        mask_utils.decode({**a["segmentation"], "counts": a["segmentation"]["counts"].encode()})
        for a in first
    ]
    assert pieces[0][10, 5:60].all() and pieces[0][20:45, 30].sum() == 0  # split by nearest centreline
    assert pieces[1][20:45, 30].all() and pieces[1].sum() == 25
    assert first[0]["bbox"] == [5, 10, 55, 1] and first[0]["area"] == 55
    blob = (out / "csv" / "blob.csv").read_text().splitlines()
    assert blob[0] == "imageId,Center X,Center Y,Strength" and blob[1] == "000000,0.156250,0.208333,0.8000"
    assert (out / "imagesets" / "val.txt").read_text() == "000001\n"


def test_unlabelled_and_mask_only_samples(tmp_path):
    image = np.zeros((16, 16), np.float32)
    mask = np.eye(16, dtype=np.uint8)
    out = tmp_path / "out"
    write_samples([(Sample(image), None), (Sample(image, mask), None)], out, bit_depth=16)
    reader = open_dataset(out)
    assert reader[0].mask is None and reader[0].electrodes is None
    assert (
        reader[1].mask.sum() == 16
        and reader[1].catheter_types == ["unknown"]
        and reader[1].electrodes is None
    )
    assert reader.split_files == []


def test_refuses_to_overwrite_user_files(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(CathxError, match="folder is not empty"):
        write_samples([], tmp_path)
    with pytest.raises(CathxError, match="not a cathx dataset"):
        write_samples([], tmp_path, overwrite=True)
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    with pytest.raises(CathxError, match="--bit-depth must be 8 or 16"):
        write_samples([], tmp_path / "new", bit_depth=12)


def test_synthetic_reader_samples_round_trip(tmp_path):
    from cathx.data import synthetic
    reader = synthetic.SyntheticReader(2, 64, 3)
    write_samples(((sample, "train") for sample in reader), tmp_path / "syn")
    back = open_dataset(tmp_path / "syn")
    for original, read in zip(reader, back, strict=True):
        np.testing.assert_array_equal(read.mask, original.mask)
        assert read.catheter_types == original.catheter_types
        assert len(read.electrodes) == len(original.electrodes)


def test_nothing_written_is_an_error_and_keeps_an_earlier_dataset(tmp_path):
    """--overwrite with every sample skipped replaced a good dataset with an empty one, exit 0."""
    from cathx.errors import DataError

    out = tmp_path / "out"
    write_samples([(_sample(0), "train")], out)
    with pytest.raises(DataError, match=r"out: no sample could be written, 2 skipped \(first: a.png: broken\); "
                                        r"nothing was changed"):
        write_samples([(None, "a.png: broken"), (None, "b.png: broken")], out, overwrite=True)
    assert len(open_dataset(out)) == 1
