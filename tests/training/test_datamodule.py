"""Data order: deterministic per (seed, epoch), sharded by rank, resumable mid-epoch."""

from __future__ import annotations

import pytest

from cathx.data.synthetic.sequence import SyntheticReader
from cathx.training.datamodule import (
    ConcatReader,
    ResumableBatchSampler,
    epoch_permutation,
    rank_batches,
    total_steps,
)


def test_epoch_permutation_depends_on_seed_and_epoch_only():
    assert epoch_permutation(10, 0, 3) == epoch_permutation(10, 0, 3)
    assert epoch_permutation(10, 0, 3) != epoch_permutation(10, 0, 4)
    assert sorted(epoch_permutation(10, 1, 0)) == list(range(10))
    assert epoch_permutation(4, 0, 0, shuffle=False) == [0, 1, 2, 3]


def test_rank_batches_shard_blocks_and_drop_the_tail():
    order = list(range(10))
    assert rank_batches(order, 2, 0, 2) == [[0, 1], [4, 5]]
    assert rank_batches(order, 2, 1, 2) == [[2, 3], [6, 7]]
    assert rank_batches(order, 3, 0, 1) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def test_sampler_skips_batches_already_stepped_in_the_epoch():
    progress = {"value": (1, 7)}  # epoch 1, 7 steps done, 4 batches per epoch -> 3 done in epoch 1
    sampler = ResumableBatchSampler(8, 2, seed=5, progress=lambda: progress["value"])
    assert len(sampler) == 4
    resumed = list(sampler)
    progress["value"] = (1, 4)
    full = list(sampler)
    assert resumed == full[3:] and len(full) == 4
    assert all(epoch == 1 for batch in full for _, epoch in batch)
    with pytest.raises(ValueError, match="fewer than one batch"):
        ResumableBatchSampler(3, 2, seed=0, world=2)


def test_concat_reader_and_step_count():
    reader = ConcatReader([SyntheticReader(2, 64, 0), SyntheticReader(3, 64, 1)])
    assert len(reader) == 5
    assert reader[3].image.shape == (64, 64)
    assert len(ConcatReader([SyntheticReader(5, 64, 0)], limit=2)) == 2
    with pytest.raises(IndexError):
        reader[5]
    assert total_steps(10, 4, epochs=3) == 6
    assert total_steps(10, 4, epochs=3, max_steps=4) == 4
    assert total_steps(10, 2, epochs=1, world=2) == 2


def test_open_sources_logs_skipped_samples_with_a_cap(tmp_path, caplog):
    import logging

    import cv2
    import numpy as np

    from cathx.training.datamodule import open_sources

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    ok, png = cv2.imencode(".png", np.zeros((16, 16), np.uint8))
    for index in range(25):  # 25 images, 24 without a mask
        (tmp_path / "images" / f"{index:02d}.png").write_bytes(png.tobytes())
    (tmp_path / "masks" / "00.png").write_bytes(png.tobytes())
    with caplog.at_level(logging.WARNING):
        reader = open_sources([tmp_path], split=None)
    assert len(reader) == 1
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0] == f"{tmp_path} (split None): 24 sample(s) skipped, 24 problem(s) while reading:"
    assert len(lines) == 22 and lines[-1] == "  - ... and 4 more"
