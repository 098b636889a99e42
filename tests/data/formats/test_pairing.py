"""pair_by_stem: the images/ + masks/ pairing shared by the folder and XRayCath readers."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from cathx.data.formats.pairing import Pair, pair_by_stem


def _write(path, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full((8, 8), value, np.uint8))
    return path


def test_pairs_by_stem_across_extensions_and_case(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    a, b, c = _write(images / "a.jpg"), _write(images / "b.PNG"), _write(images / "c.tif")
    ma, mb, mc = _write(masks / "a.png"), _write(masks / "b.bmp"), _write(masks / "c.png")
    (images / "notes.txt").write_text("not an image")
    _write(images / ".hidden.png")
    problems: list[str] = []
    pairing = pair_by_stem(images, masks, problems)
    assert pairing.pairs == [Pair("a", a, ma), Pair("b", b, mb), Pair("c", c, mc)]
    assert pairing.images == {"a": a, "b": b, "c": c}
    assert problems == []


def test_missing_partner_either_way_is_reported_and_skipped(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    a, lonely = _write(images / "a.png"), _write(images / "lonely.png")
    ma, orphan = _write(masks / "a.png"), _write(masks / "orphan.png")
    problems: list[str] = []
    pairing = pair_by_stem(images, masks, problems)
    assert pairing.pairs == [Pair("a", a, ma)]
    # the unpaired image still counts as listed (a split file naming it is not "unknown")
    assert set(pairing.images) == {"a", "lonely"}
    assert problems == [f"{lonely}: no mask in {masks} (skipped)",
                        f"{orphan}: mask has no image in {images} (skipped)"]


@pytest.mark.parametrize("masks_name", [None, "absent"])
def test_without_a_masks_folder_every_image_is_unlabelled(tmp_path, masks_name):
    images = tmp_path / "images"
    a, b = _write(images / "a.png"), _write(images / "b.png")
    problems: list[str] = []
    pairing = pair_by_stem(images, None if masks_name is None else tmp_path / masks_name, problems)
    assert pairing.pairs == [Pair("a", a, None), Pair("b", b, None)] and problems == []


def test_duplicate_stems_keep_the_first_by_name(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    first, second = _write(images / "a.jpg"), _write(images / "a.png")
    mask, mask_twin = _write(masks / "a.bmp", 255), _write(masks / "a.png", 255)
    problems: list[str] = []
    pairing = pair_by_stem(images, masks, problems)
    assert pairing.pairs == [Pair("a", first, mask)]
    assert problems == [f"{second}: same name as a.jpg (ignored)", f"{mask_twin}: same name as a.bmp (ignored)"]


def test_empty_files_are_reported_with_the_image_they_cost(tmp_path):
    images, masks = tmp_path / "images", tmp_path / "masks"
    empty_image = images / "a.png"
    images.mkdir()
    empty_image.write_bytes(b"")
    _write(masks / "a.png")
    b = _write(images / "b.png")
    empty_mask = masks / "b.png"
    empty_mask.write_bytes(b"")
    c, mc = _write(images / "c.png"), _write(masks / "c.png")
    problems: list[str] = []
    pairing = pair_by_stem(images, masks, problems)
    assert pairing.pairs == [Pair("c", c, mc)]
    assert problems == [f"{empty_image}: file is empty (0 bytes) (skipped)",
                        f"{empty_mask}: file is empty (0 bytes) (skipped {b.name})"]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_a_mask_linking_out_of_the_dataset_is_skipped(tmp_path):
    root = tmp_path / "ds"
    a = _write(root / "images" / "a.png")
    outside = _write(tmp_path / "elsewhere" / "a.png")
    (root / "masks").mkdir()
    (root / "masks" / "a.png").symlink_to(outside)
    problems: list[str] = []
    pairing = pair_by_stem(root / "images", root / "masks", problems, root)
    assert pairing.pairs == []
    assert len(problems) == 2 and problems[0].startswith(f"{root / 'masks' / 'a.png'}: resolves to ")
    assert problems[1] == f"{a}: no mask in {root / 'masks'} (skipped)"
