"""The pure parts of benchmarks/tracking_replay.py."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "tracking_replay.py"
spec = importlib.util.spec_from_file_location("tracking_replay", SCRIPT)
replay = importlib.util.module_from_spec(spec)
spec.loader.exec_module(replay)


def frames_from(lines: dict[int, list]) -> list[dict]:
    """score_frame-like results from each true catheter's id per frame (None: missed)."""
    count = max(len(v) for v in lines.values())
    return [{"catheters": {c: {"id": ids[t]} for c, ids in lines.items() if t < len(ids)}} for t in range(count)]


def test_extra_ids_sorted_into_fresh_and_neighbour_by_hand():
    frames = frames_from({
        0: [3, 3, 3, 7, 3],        # 7 is nobody's usual id: a fresh track
        1: [5, 5, 3, 5, None],     # 3 is catheter 0's usual id: a neighbour's track
        2: [8, 8, 8],              # one id: nothing extra
    })
    assert replay.extra_id_kinds(frames) == {"fresh": 1, "neighbour": 1}


def test_an_id_counts_once_however_often_it_returns_and_misses_count_nothing():
    assert replay.extra_id_kinds(frames_from({0: [1, 2, 1, 2, 1]})) == {"fresh": 1, "neighbour": 0}
    assert replay.extra_id_kinds(frames_from({0: [None, None]})) == {"fresh": 0, "neighbour": 0}


def test_tracker_override_rejects_an_unknown_field_naming_the_valid_ones():
    with pytest.raises(SystemExit, match="max_missed"):
        replay.tracker_overrides(["no_such_field=1"])
    assert replay.tracker_overrides(["max_missed=15", "piece_on_line=false"]) == {
        "max_missed": 15, "piece_on_line": False}
