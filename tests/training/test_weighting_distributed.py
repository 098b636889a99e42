"""The prioritizer's cross-rank helpers (gather, _mean_across_ranks) in a real 2-process gloo group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from cathx.training.weighting import _mean_across_ranks, gather


def _rank_main(rank: int, world: int, init_file: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        # rank r holds r + 1 rows: the gathered rows come back in rank order, padding dropped
        rows = torch.arange(rank + 1, dtype=torch.int64) + 10 * rank
        pairs = torch.stack([rows, -rows], dim=1).to(torch.float32)
        flags = torch.tensor([rank == 0] * (rank + 1))
        gathered = gather(rows)
        result = {
            "rows": gathered.tolist(), "rows_dtype": str(gathered.dtype),
            "pairs": gather(pairs).tolist(), "flags": gather(flags).tolist(),
            "mean": _mean_across_ranks(torch.tensor([rank + 1.0, 4.0 * rank])).tolist(),
        }
        Path(out, f"rank{rank}.json").write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # two spawned processes import torch: 5-25 s
def test_gather_and_mean_across_two_ranks(tmp_path):
    mp.spawn(_rank_main, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    for rank in (0, 1):
        result = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert result["rows"] == [0, 10, 11] and result["rows_dtype"] == "torch.int64"
        assert result["pairs"] == [[0.0, 0.0], [10.0, -10.0], [11.0, -11.0]]
        assert result["flags"] == [True, False, False]
        assert result["mean"] == [1.5, 2.0]


def test_without_a_process_group_the_helpers_return_their_input():
    tensor = torch.tensor([1.0, 2.0])
    assert gather(tensor) is tensor
    assert _mean_across_ranks(tensor) is tensor
