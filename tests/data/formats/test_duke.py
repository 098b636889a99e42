"""Duke OCT reader: .mat volumes (v5 via scipy.io.savemat, v7.3 via h5py) and .npy pairs."""

from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest
import scipy.io

from cathx.data.formats import detect_format, open_dataset
from cathx.data.formats.duke import retina_mask
from cathx.errors import DataError

H, W, N = 40, 24, 5


def _subject():
    images = np.zeros((H, W, N), np.uint8)
    images[10:30] = 120
    layers = np.full((3, W, N), np.nan)
    for frame in (1, 3):  # only two traced B-scans, as in the release (11 of 61)
        layers[0, :, frame] = 10
        layers[1, :, frame] = 20
        layers[2, :, frame] = 29
    layers[:, :4, 3] = np.nan  # untraced columns
    fluid = np.zeros((H, W, N), np.uint8)
    return {"images": images, "manualLayers1": layers, "manualFluid1": fluid}


def _write_v73(path, arrays):
    with h5py.File(path, "w", userblock_size=512) as handle:
        for name, value in arrays.items():
            handle.create_dataset(name, data=np.ascontiguousarray(value.T))  # MATLAB is column-major
    header = (
        b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    )
    with open(path, "r+b") as handle:
        handle.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM")


def test_retina_mask_from_boundaries():
    boundaries = np.array([[2.0, np.nan, 1.0], [4.0, 3.0, np.nan], [5.0, np.nan, 2.0]])
    mask = retina_mask(boundaries, 7)
    assert mask[:, 0].tolist() == [0, 0, 1, 1, 1, 1, 0]
    assert mask[:, 1].sum() == 0  # one boundary only: not traced
    assert mask[:, 2].tolist() == [0, 1, 1, 0, 0, 0, 0]


@pytest.mark.parametrize("version", ["v5", "v7.3"])
def test_mat_volume_labelled_scans_only(tmp_path, version):
    path = tmp_path / "Subject_01.mat"
    if version == "v5":
        scipy.io.savemat(path, _subject())
    else:
        _write_v73(path, _subject())
    assert detect_format(path) == "duke"
    reader = open_dataset(path)
    assert len(reader) == 2 and reader.unlabelled_frames == 3
    first, second = reader[0], reader[1]
    first.validate()
    assert first.meta["frame_index"] == 1 and second.meta["frame_index"] == 3
    assert first.image.shape == (H, W) and first.image[15, 0] == pytest.approx(120 / 255)
    assert first.mask[10:30].all() and first.mask[:10].sum() == 0 and first.mask[30:].sum() == 0
    assert second.mask[:, :4].sum() == 0 and first.electrodes is None
    clone = pickle.loads(pickle.dumps(reader))
    assert not clone._cache and np.array_equal(clone[1].mask, second.mask)


def test_folder_of_subjects_with_splits(tmp_path):
    for split in ("train", "val"):
        (tmp_path / split).mkdir()
        scipy.io.savemat(tmp_path / split / "Subject_01.mat", _subject())
    (tmp_path / "train" / "Subject_02.mat").write_bytes(b"garbage")
    reader = open_dataset(tmp_path, split="train")
    assert len(reader) == 2
    assert reader.problems and "Subject_02.mat: not a readable .mat file" in reader.problems[0]
    assert len(open_dataset(tmp_path, split="val")) == 2
    with pytest.raises(DataError, match="no split folder 'test'; found: train, val"):
        open_dataset(tmp_path, split="test")


def test_mat_without_expected_variables(tmp_path):
    path = tmp_path / "x.mat"
    scipy.io.savemat(path, {"volume": np.zeros((4, 4, 2))})
    with pytest.raises(DataError, match=r"x\.mat: no variable 'images' \(found: volume\)"):
        open_dataset(path)


def test_npy_pairs(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "mask").mkdir()
    for index in range(3):
        np.save(tmp_path / "img" / f"{index}.npy", np.full((16, 20), 0.5, np.float32))
        label = np.zeros((16, 20), np.int64)
        label[5:8] = index + 1  # layer class ids
        np.save(tmp_path / "mask" / f"{index}.npy", label)
    np.save(tmp_path / "img" / "9.npy", np.zeros((16, 20)))
    assert detect_format(tmp_path) == "duke"
    reader = open_dataset(tmp_path)
    assert len(reader) == 3
    assert any("img/9.npy: no label .npy" in p for p in reader.problems)
    sample = reader[2]
    assert sample.image[0, 0] == 0.5 and sample.mask.sum() == 3 * 20 and sample.mask.max() == 1


@pytest.mark.parametrize("version", ["v5", "v73"])
@pytest.mark.parametrize(("change", "message"), [
    ({"images": np.zeros((H, W, N - 2), np.uint8)}, "does not match 'images'"),  # fewer B-scans: IndexError
    ({"images": np.zeros((H, W + 4, N), np.uint8)}, "does not match 'images'"),  # another width: silent
    ({"images": np.zeros((H, W), np.uint8)}, "does not match 'images'"),  # one image for every mask
    ({"images": np.zeros((H, W, N, 2), np.uint8)}, "'images' has shape"),
])
def test_a_volume_whose_arrays_disagree_is_refused_naming_the_file(tmp_path, version, change, message):
    arrays = {**_subject(), **change}
    path = tmp_path / "Subject_01.mat"
    if version == "v5":
        scipy.io.savemat(path, arrays)
    else:
        _write_v73(path, arrays)
    with pytest.raises(DataError, match=f"Subject_01.mat: .*{message}"):
        open_dataset(path, format="duke")


def test_layers_stored_as_a_cell_array_are_refused_naming_the_file(tmp_path):
    arrays = _subject()
    cells = np.empty((1, 2), dtype=object)
    cells[0, 0], cells[0, 1] = np.zeros(3), np.zeros(4)
    scipy.io.savemat(tmp_path / "Subject_01.mat", {**arrays, "manualLayers1": cells})
    with pytest.raises(DataError, match=r"Subject_01.mat: 'manualLayers1' is a MATLAB cell, not a numeric array"):
        open_dataset(tmp_path / "Subject_01.mat", format="duke")


def test_a_volume_declaring_more_frames_than_the_limit_is_refused_before_loading(tmp_path, monkeypatch):
    monkeypatch.setenv("CATHX_MAX_FRAMES", "3")
    scipy.io.savemat(tmp_path / "Subject_01.mat", _subject())
    with pytest.raises(DataError, match=r"Subject_01.mat: 'images' declares 5 frames; at most 3"):
        open_dataset(tmp_path / "Subject_01.mat", format="duke")
