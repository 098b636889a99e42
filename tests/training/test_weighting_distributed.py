"""The prioritizer's cross-rank helpers (gather, _mean_across_ranks) in a real 2-process gloo group.

This process is rank 0 (so a mutation tool that traces which tests reach a function sees these
calls) and a spawned process is rank 1.
"""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from cathx.training.weighting import _mean_across_ranks, gather


def _exchange(rank: int) -> dict:
    """What rank ``rank`` gets back from the helpers: rank r holds r + 1 rows."""
    rows = torch.arange(rank + 1, dtype=torch.int64) + 10 * rank
    pairs = torch.stack([rows, -rows], dim=1).to(torch.float32)
    flags = torch.tensor([rank == 0] * (rank + 1))
    gathered = gather(rows)
    return {
        "rows": gathered.tolist(), "rows_dtype": str(gathered.dtype),
        "pairs": gather(pairs).tolist(), "flags": gather(flags).tolist(),
        "mean": _mean_across_ranks(torch.tensor([rank + 1.0, 4.0 * rank])).tolist(),
    }


def _rank_one(init_file: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=1, world_size=2)
    try:
        Path(out).write_text(json.dumps(_exchange(1)))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # the spawned rank imports torch: 5-25 s
def test_gather_and_mean_across_two_ranks(tmp_path):
    init_file, out = str(tmp_path / "init"), tmp_path / "rank1.json"
    other = multiprocessing.get_context("spawn").Process(target=_rank_one, args=(init_file, str(out)))
    other.start()
    try:
        dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=0, world_size=2)
        try:
            results = [_exchange(0)]
        finally:
            dist.destroy_process_group()
        other.join(timeout=120)
    finally:
        if other.is_alive():
            other.kill()
    assert other.exitcode == 0
    results.append(json.loads(out.read_text()))
    for result in results:
        assert result["rows"] == [0, 10, 11] and result["rows_dtype"] == "torch.int64"
        assert result["pairs"] == [[0.0, 0.0], [10.0, -10.0], [11.0, -11.0]]
        assert result["flags"] == [True, False, False]
        assert result["mean"] == [1.5, 2.0]


def test_without_a_process_group_the_helpers_return_their_input():
    tensor = torch.tensor([1.0, 2.0])
    assert gather(tensor) is tensor
    assert _mean_across_ranks(tensor) is tensor
